// A sign-in form is sent once: a second press while the first is on its way (a double click on
// a slow network) would make the browser drop the first answer, which the server already acted
// on, and show the second's ("this sign-in page has expired"). Back from the next page, the
// form can be sent again.
function markUnsent() {
  for (const form of document.querySelectorAll('form[data-once]')) delete form.dataset.sent;
}
for (const form of document.querySelectorAll('form[data-once]')) {
  form.addEventListener('submit', (event) => {
    if (form.dataset.sent) event.preventDefault();
    else form.dataset.sent = '1';
  });
}
window.addEventListener('pageshow', markUnsent);
