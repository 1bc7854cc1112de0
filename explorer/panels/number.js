// An exact number control: a slider for sweeping and a box that shows and takes the exact value.
//
// The kernel holds the value. This view never rounds a value it was given and never sends one
// back: it sends a value only when the user drags the slider (a value on the slider's grid,
// rounded to the digits the grid resolves, so the box shows exactly what is computed), and
// typed text only as text, for the kernel to parse, clamp or refuse (explorer/panels/number.py).

function decimals(step) {
  const text = String(step);
  const exponent = text.match(/e-(\d+)$/);
  if (exponent) return Number(exponent[1]);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

// Significant digits that tell neighbouring points of a log grid apart (step in decades).
function logDigits(step) {
  return Math.max(2, Math.ceil(-Math.log10(Math.pow(10, step) - 1)) + 1);
}

function position(model, value) {
  return model.get("scale") === "log" ? Math.log10(value) : value;
}

function valueAt(model, where) {
  const step = model.get("step");
  let value;
  if (model.get("scale") === "log") {
    value = Number(Math.pow(10, where).toPrecision(logDigits(step)));
  } else {
    value = Number(where.toFixed(decimals(step)));
  }
  value = Math.min(Math.max(value, model.get("min")), model.get("max"));
  return model.get("integer") ? Math.round(value) : value;
}

function render({ model, el }) {
  el.classList.add("ge-number");
  const label = document.createElement("label");
  label.className = "ge-number-label";
  const slider = document.createElement("input");
  slider.type = "range";
  slider.className = "ge-number-slider";
  const box = document.createElement("input");
  box.type = "text";
  box.className = "ge-number-box";
  box.spellcheck = false;
  box.setAttribute("inputmode", "decimal");
  const id = "ge-number-" + Math.random().toString(36).slice(2);
  box.id = id;
  label.htmlFor = id;
  el.append(label, slider, box);
  let editing = false; // the user has typed into the box and not yet committed

  function show() {
    const value = model.get("value");
    const showSlider = model.get("slider");
    label.textContent = model.get("description");
    const tooltip = model.get("tooltip");
    if (tooltip) el.title = tooltip;
    else el.removeAttribute("title");
    slider.style.display = showSlider ? "" : "none";
    el.classList.toggle("ge-number-plain", !showSlider);
    if (model.get("scale") === "log") {
      slider.min = String(Math.log10(model.get("min")));
      slider.max = String(Math.log10(model.get("max")));
    } else {
      slider.min = String(model.get("min"));
      slider.max = String(model.get("max"));
    }
    slider.step = String(model.get("step"));
    slider.value = String(position(model, value)); // the thumb may sit on the grid; the value does not
    slider.setAttribute("aria-label", model.get("description"));
    slider.setAttribute("aria-valuetext", String(value));
    if (!editing) box.value = String(value); // never overwrite what the user is typing
    box.dataset.value = String(value);
    slider.disabled = box.disabled = model.get("disabled");
  }

  slider.addEventListener("input", () => {
    const value = valueAt(model, Number(slider.value));
    box.value = String(value);
    if (value !== model.get("value")) {
      model.set("value", value);
      model.save_changes();
    }
  });

  function commit() {
    if (!editing) return;
    editing = false;
    const text = box.value;
    const shown = String(model.get("value"));
    if (text.trim() === shown) {
      box.value = shown;
      return;
    }
    model.send({ event: "typed", text: text.slice(0, 1000) }); // the kernel refuses long text
    box.value = shown; // the kernel's answer (a new value, or a status message) follows
  }
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      commit();
    } else if (event.key === "Escape") {
      editing = false;
      box.value = String(model.get("value"));
    }
  });
  box.addEventListener("input", () => {
    editing = true;
  });
  box.addEventListener("blur", commit);

  for (const name of ["value", "min", "max", "step", "scale", "description", "disabled", "tooltip", "slider"]) {
    model.on("change:" + name, show);
  }
  show();
}

export default { render };
