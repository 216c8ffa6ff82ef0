// Leaving for the organisation's own sign-in: follow the link at once (a form's answer may
// not redirect to another origin under the page's form-action policy; a script may).
window.location.replace(document.getElementById("continue").href);
