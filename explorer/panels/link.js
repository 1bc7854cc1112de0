// The page's link (explorer/panels/link.py): the kernel sets the view's query string; this
// writes it into the address bar (history.replaceState: no reload, no history entry) when the
// page is a Voilà app, and copies the full link on "Copy link".

function fullLink(model) {
  const query = model.get("query");
  const tail = query ? "?" + query : "";
  if (!model.get("absolute")) return tail;
  const here = window.location;
  return here.origin + here.pathname + tail;
}

async function copyText(text, box) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (error) {
    // no clipboard (an insecure page): select the link for Ctrl+C
    box.hidden = false;
    box.focus();
    box.select();
    try {
      return document.execCommand("copy");
    } catch (ignored) {
      return false;
    }
  }
}

function render({ model, el }) {
  el.classList.add("ge-link");
  const button = document.createElement("button");
  button.className = "ge-link-copy jupyter-button";
  button.type = "button";
  const box = document.createElement("input");
  box.type = "text";
  box.readOnly = true;
  box.className = "ge-link-box";
  box.setAttribute("aria-label", "link to this view");
  const said = document.createElement("span");
  said.className = "ge-link-said";
  said.setAttribute("aria-live", "polite");
  el.append(button, box, said);

  const update = () => {
    const query = model.get("query");
    const link = fullLink(model);
    button.textContent = model.get("label");
    button.title = "Copy a link that opens this view with these exact values";
    box.value = link;
    box.hidden = !model.get("show_link");
    el.dataset.link = link;
    if (model.get("address")) {
      const wanted = query ? "?" + query : "";
      if (window.location.search !== wanted) {
        window.history.replaceState(window.history.state, "", wanted + window.location.hash);
      }
    }
  };
  button.addEventListener("click", async () => {
    const link = fullLink(model);
    const copied = await copyText(link, box);
    said.textContent = copied ? "Copied." : "Select the link and copy it.";
    setTimeout(() => { said.textContent = ""; }, 4000);
  });
  model.on("change:query", update);
  model.on("change:label", update);
  model.on("change:show_link", update);
  model.on("change:address", update);
  model.on("change:absolute", update);
  update();
}
export default { render };
