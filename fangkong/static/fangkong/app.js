// Confirmation on destructive actions: any form or button with data-confirm asks first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const message = form.dataset.confirm || (event.submitter && event.submitter.dataset.confirm);
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
}, true);

// Toasts fade out by themselves after a few seconds.
window.addEventListener("load", () => {
  document.querySelectorAll("#toasts .toast").forEach((el) => {
    setTimeout(() => el.classList.remove("show"), 6000);
  });
});
