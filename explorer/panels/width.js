// Reports the width this element is given (the panel's width), so the kernel can fit its figures
// to the page: a ResizeObserver, debounced, silent while hidden (a tab not shown has width 0).
function render({ model, el }) {
  el.style.height = "0px";
  el.style.width = "100%";
  let timer = null;
  const observer = new ResizeObserver(() => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const width = Math.round(el.getBoundingClientRect().width);
      if (width > 0 && Math.abs(width - model.get("width")) > 8) {
        model.set("width", width);
        model.save_changes();
      }
    }, 150);
  });
  observer.observe(el);
  return () => observer.disconnect();
}
export default { render };
