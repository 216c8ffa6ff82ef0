//! Where an import file went wrong: the field and line of each error (`ImportError`), found
//! from the spans TOML keeps (`Validator`). Shared by the file's parts (`import`,
//! `import_providers`).

use toml::Spanned;

#[derive(Debug, thiserror::Error)]
#[error("{file}: line {line}: `{field}`: {message}")]
pub struct ImportError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// Turns a spanned value of one file into an error naming its field and line.
pub(crate) struct Validator<'a> {
    file: &'a str,
    text: &'a str,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Self { file, text }
    }

    /// A path named in the file, relative to the file's directory.
    pub(crate) fn relative(&self, path: &str) -> std::path::PathBuf {
        let base = std::path::Path::new(self.file).parent().unwrap_or_else(|| std::path::Path::new(""));
        base.join(path)
    }
    fn line_of(&self, offset: usize) -> usize {
        self.text.get(..offset).map(|t| t.matches('\n').count() + 1).unwrap_or(1)
    }
    pub(crate) fn error<T>(&self, span: &Spanned<T>, field: &str, message: impl Into<String>) -> ImportError {
        ImportError { file: self.file.to_owned(), line: self.line_of(span.span().start), field: field.to_owned(), message: message.into() }
    }
}
