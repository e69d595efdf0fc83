// A table wider than its box scrolls sideways inside it (libfed.css). One that holds no
// link, field or button would leave a keyboard no way to scroll it: it gets a tab stop
// while it overflows, and loses it when a wider window shows it whole.
const focusable = "a[href], button, input, select, textarea, [tabindex]";
const watch = new ResizeObserver((entries) => {
  for (const { target: table } of entries) {
    const overflows = table.scrollWidth > table.clientWidth + 1;
    if (overflows && !table.hasAttribute("tabindex") && !table.querySelector(focusable)) {
      table.tabIndex = 0;
      table.dataset.scrollStop = "";
    } else if (!overflows && "scrollStop" in table.dataset) {
      table.removeAttribute("tabindex");
      delete table.dataset.scrollStop;
    }
  }
});
for (const table of document.querySelectorAll("main table")) watch.observe(table);
