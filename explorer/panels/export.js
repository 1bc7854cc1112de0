// The export bar under a panel's figures (explorer/panels/export.py). Each button asks the kernel
// for a file (PNG, SVG, CSV of one figure) or for the panel's "Copy as code" snippet; the kernel
// makes it on request and sends it back. A file arrives as a binary buffer and is saved through
// a Blob link; the snippet is shown in a read-only box with a Copy button.

const TIPS = {
  png: "Download this figure as a PNG image, twice the size it has on screen",
  svg: "Download this figure as an SVG drawing (scalable, text kept as text)",
  csv: "Download the numbers this figure draws, as CSV (one column per plotted series)",
  code: "Show Python that calls explorer.core with these exact values and prints these numbers",
};

function button(text, tip) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "jupyter-button ge-export-button";
  element.textContent = text;
  element.title = tip;
  return element;
}

async function copyText(text, box) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (error) {
    // no clipboard here (an insecure page, no permission): select the text for Ctrl+C
    box.focus();
    box.select();
    try {
      return document.execCommand("copy");
    } catch (ignored) {
      return false;
    }
  }
}

function save(name, mime, buffer) {
  const url = URL.createObjectURL(new Blob([buffer], { type: mime }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function render({ model, el }) {
  el.classList.add("ge-export");
  const rows = document.createElement("div");
  rows.className = "ge-export-rows";
  const said = document.createElement("span");
  said.className = "ge-export-said";
  said.setAttribute("aria-live", "polite");
  const code = document.createElement("div");
  code.className = "ge-export-code";
  code.hidden = true;
  const box = document.createElement("textarea");
  box.readOnly = true;
  box.spellcheck = false;
  box.className = "ge-export-snippet";
  box.setAttribute("aria-label", "Python code giving the numbers shown");
  const copy = button("Copy", "Copy the code to the clipboard");
  const hide = button("Hide", "Hide the code");
  const codeButtons = document.createElement("div");
  codeButtons.append(copy, hide);
  code.append(box, codeButtons);
  el.append(rows, said, code);

  function ask(kind, figure) {
    said.textContent = kind === "code" ? "Writing the code…" : "Preparing the file…";
    model.send({ event: "export", kind, figure });
  }

  function draw() {
    rows.replaceChildren();
    const names = model.get("figures");
    names.forEach((name, figure) => {
      const row = document.createElement("div");
      row.className = "ge-export-row";
      row.dataset.figure = String(figure);
      const label = document.createElement("span");
      label.className = "ge-export-label";
      label.textContent = name ? `Export ${name}:` : "Export the figure:";
      row.append(label);
      for (const kind of ["png", "svg", "csv"]) {
        const element = button(kind.toUpperCase(), TIPS[kind]);
        element.dataset.kind = kind;
        element.addEventListener("click", () => ask(kind, figure));
        row.append(element);
      }
      if (figure === names.length - 1) {
        const element = button("Copy as code", TIPS.code);
        element.dataset.kind = "code";
        element.addEventListener("click", () => ask("code", 0));
        row.append(element);
      }
      rows.append(row);
    });
  }

  model.on("msg:custom", (content, buffers) => {
    if (content.event === "file" && buffers && buffers.length) {
      save(content.name, content.mime, buffers[0]);
      said.textContent = `Saved ${content.name}.`;
    } else if (content.event === "code") {
      box.value = content.text;
      box.rows = Math.min(24, content.text.split("\n").length + 1);
      code.hidden = false;
      said.textContent = "The code below gives the numbers shown; copy it into Python.";
    }
  });
  copy.addEventListener("click", async () => {
    said.textContent = (await copyText(box.value, box))
      ? "Copied the code."
      : "Select the code and press Ctrl+C to copy it.";
  });
  hide.addEventListener("click", () => {
    code.hidden = true;
    said.textContent = "";
  });
  model.on("change:figures", draw);
  draw();
}

export default { render };
