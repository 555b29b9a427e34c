// Small behaviours with no inline script (the CSP forbids it): select-all checkboxes and confirmations.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (box.matches && box.matches("input[data-select-all]")) {
    document.querySelectorAll("input[name='" + box.dataset.selectAll + "']").forEach((b) => { b.checked = box.checked; });
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
