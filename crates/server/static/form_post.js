// OAuth 2.0 Form Post Response Mode: submit the hidden form to the client at once.
document.getElementById("form-post").submit();
