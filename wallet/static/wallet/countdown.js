// The confirm page's quote countdown: "Price held for 29:41", then, at expiry, the confirm
// button is disabled and the page says to get a new price. Times are the server's (ISO 8601).
(function () {
  "use strict";
  var box = document.getElementById("countdown");
  if (!box) { return; }
  var expires = Date.parse(box.getAttribute("data-expires"));
  var button = document.getElementById("confirm");
  var live = document.createElement("span");
  live.className = "muted";
  box.appendChild(document.createElement("br"));
  box.appendChild(live);
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var left = Math.floor((expires - Date.now()) / 1000);
    if (left <= 0) {
      box.textContent = box.getAttribute("data-expired-text");
      box.setAttribute("role", "alert");
      if (button) { button.disabled = true; }
      return;
    }
    var text = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
    live.textContent = box.getAttribute("data-left-text").replace("{time}", text);
    window.setTimeout(tick, 1000);
  }
  tick();
})();
