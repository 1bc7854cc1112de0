// Puts each control's tooltip on the page as the title of the whole control, where ipywidgets 8
// shows none: a dropdown, check box or text box with a description gets no title at all
// (jupyter-widgets/ipywidgets#3964). The kernel sends the tooltips by control name; each control
// carries the class "ge-tip-<name>" (explorer/panels/help.py). This element sits in its panel,
// so it looks only there; it re-applies when the tooltips change or the panel's children do.
function render({ model, el }) {
  el.style.height = "0px";
  let panel = null;
  let observer = null;

  function apply() {
    if (!panel) return;
    for (const [name, title] of Object.entries(model.get("titles") || {})) {
      for (const node of panel.querySelectorAll(".ge-tip-" + name)) {
        if (node.getAttribute("title") !== title) node.setAttribute("title", title);
      }
    }
  }

  function attach(tries) {
    if (!el.parentElement) {
      if (tries > 0) requestAnimationFrame(() => attach(tries - 1));
      return;
    }
    panel = el.parentElement;
    observer = new MutationObserver(apply); // the panel's controls are rendered after this
    observer.observe(panel, { childList: true, subtree: true });
    apply();
  }

  model.on("change:titles", apply);
  attach(600);
  return () => {
    if (observer) observer.disconnect();
  };
}

export default { render };
