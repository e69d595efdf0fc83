// A table wider than its box scrolls sideways inside it, or inside the box around it
// (class "scroll"; libfed.css). One that holds no link, field or button would leave a
// keyboard no way to scroll it: it gets a tab stop while it overflows, and loses it when
// a wider window shows it whole.
const focusable = "a[href], button, input, select, textarea, [tabindex]";
const watch = new ResizeObserver((entries) => {
  for (const { target: box } of entries) {
    const overflows = box.scrollWidth > box.clientWidth + 1;
    if (overflows && !box.hasAttribute("tabindex") && !box.querySelector(focusable)) {
      box.tabIndex = 0;
      box.dataset.scrollStop = "";
    } else if (!overflows && "scrollStop" in box.dataset) {
      box.removeAttribute("tabindex");
      delete box.dataset.scrollStop;
    }
  }
});
for (const box of document.querySelectorAll("main table, main .scroll")) watch.observe(box);
