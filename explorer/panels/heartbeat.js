// The page's side of the heartbeat (explorer/panels/faults.py): every ping_ms this view sends
// the kernel a numbered ping over the widget's custom messages, and the kernel answers with the
// same number. A ping unanswered for lost_ms means the kernel stopped (a bare kernel restarted
// under the same id answers nothing) or the websocket is gone: a banner at the top of the page
// says so, with a Reload button that has the keyboard focus. While all is well this element is
// empty and zero pixels high; an answer that comes after all takes the banner away.
//
// Time this page did not run (a sleeping laptop, a throttled background tab) is not counted: a
// tick that comes much later than planned starts the count again.

function banner(message) {
  const box = document.createElement("div");
  box.className = "ge-lost";
  box.setAttribute("role", "alert");
  Object.assign(box.style, {
    position: "fixed",
    top: "0",
    left: "0",
    right: "0",
    zIndex: "10000",
    display: "flex",
    alignItems: "center",
    gap: "16px",
    padding: "12px 20px",
    background: "#b42318",
    color: "#ffffff",
    font: "16px/1.4 sans-serif",
    boxShadow: "0 2px 6px rgba(0, 0, 0, 0.3)",
  });
  const text = document.createElement("span");
  text.textContent = message;
  const reload = document.createElement("button");
  reload.type = "button";
  reload.className = "ge-lost-reload";
  reload.textContent = "Reload";
  Object.assign(reload.style, {
    font: "inherit",
    fontWeight: "bold",
    padding: "4px 16px",
    color: "#b42318",
    background: "#ffffff",
    border: "2px solid #ffffff",
    borderRadius: "4px",
    cursor: "pointer",
    outlineOffset: "3px",
  });
  reload.addEventListener("click", () => window.location.reload());
  box.append(text, reload);
  return { box, reload };
}

function render({ model, el }) {
  el.classList.add("ge-heartbeat");
  el.style.height = "0px";
  el.style.overflow = "hidden";
  el.dataset.answered = "0"; // pings answered: the browser tests read it
  const first = Math.floor(Math.random() * 1e9); // this view's numbers: another view's differ
  let next = first;
  const waiting = new Map(); // ping number -> when it was sent (ms)
  let lastTick = Date.now();
  let shown = null;

  function lost() {
    if (shown) return;
    shown = banner(model.get("message"));
    document.body.prepend(shown.box);
    shown.reload.focus();
  }

  function tick() {
    const now = Date.now();
    const late = now - lastTick > 2 * model.get("ping_ms");
    lastTick = now;
    if (late) waiting.clear(); // the page itself was not running: count again from now
    for (const sent of waiting.values()) {
      if (now - sent > model.get("lost_ms")) {
        lost();
        return;
      }
    }
    const number = next++;
    waiting.set(number, now);
    try {
      model.send({ event: "ping", n: number });
    } catch (error) {
      // no connection to send on (the kernel is gone): the ping stays unanswered
    }
  }

  function onMessage(message) {
    if (!message || message.event !== "pong" || !waiting.has(message.n)) return;
    for (const number of waiting.keys()) {
      if (number <= message.n) waiting.delete(number); // answers come in order
    }
    el.dataset.answered = String(Number(el.dataset.answered) + 1);
    if (shown) {
      shown.box.remove(); // the kernel answers again (a websocket that came back)
      shown = null;
    }
  }

  model.on("msg:custom", onMessage);
  const timer = setInterval(tick, model.get("ping_ms"));
  tick();
  return () => {
    clearInterval(timer);
    model.off("msg:custom", onMessage);
    if (shown) shown.box.remove(); // the app left the page: nothing to report about
  };
}

export default { render };
