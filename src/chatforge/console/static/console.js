// Chatforge console: drag and drop for uploads, the source kind switch, copy buttons, the
// playground's Enter to send.
// Everything else is plain HTML with htmx attributes; pages work without this file.
(function () {
  "use strict";

  function setupDropzone(root) {
    var form = root.querySelector("#upload-form");
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    var input = form.querySelector("#files");
    var zone = form.querySelector("#dropzone");
    var send = function () { if (input.files.length) htmx.trigger(form, "submit"); };
    input.addEventListener("change", send);
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        send();
      }
    });
    form.addEventListener("htmx:afterRequest", function () { input.value = ""; });
  }

  function setupSources(root) {
    var form = root.querySelector(".source-form");
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    var tabs = form.parentElement.querySelectorAll("[data-source]");
    tabs.forEach(function (tab) {
      tab.addEventListener("click", function () {
        tabs.forEach(function (other) { other.setAttribute("aria-selected", String(other === tab)); });
        form.querySelectorAll("[data-for]").forEach(function (part) {
          var on = part.dataset.for === tab.dataset.source;
          part.hidden = !on;
          part.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !on; });
        });
      });
    });
  }

  function setupCopy(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = document.querySelector(button.dataset.copy).textContent;
        navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
      });
    });
  }

  function setupPreview(root) {
    var form = root.querySelector("#theme-form");
    var preview = root.querySelector("#preview");
    if (!form || !preview) return;
    var field = function (name) { return form.querySelector('[data-preview="' + name + '"]'); };
    var update = function () {
      preview.style.setProperty("--w-primary", field("primary").value);
      preview.style.setProperty("--w-secondary", field("secondary").value);
      preview.querySelector('[data-show="header"]').textContent = field("header").value || field("name").value;
      preview.querySelector('[data-show="slogan"]').textContent = field("slogan").value;
    };
    form.addEventListener("input", update);
  }

  // The playground streams its answer (Server-Sent Events over a POST, read with fetch); the
  // server sends the finished turn, sources and why included, as HTML to put in its place.
  function setupStream(root) {
    var form = root.querySelector("form[data-stream]");
    if (!form || !window.fetch || !window.TextDecoder) return;  // htmx posts it whole instead
    var log = root.querySelector("#log");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      event.stopImmediatePropagation();
      var box = form.querySelector("textarea");
      var button = form.querySelector("button");
      var question = box.value;
      if (!question.trim()) return;
      var turn = document.createElement("div");
      turn.className = "turn streaming";
      var mine = document.createElement("div");
      mine.className = "msg user";
      mine.innerHTML = '<div class="who">You</div><div class="bubble"></div>';
      mine.querySelector(".bubble").textContent = question;
      var bot = document.createElement("div");
      bot.className = "msg bot";
      bot.innerHTML = '<div class="who">Bot</div><div class="bubble" aria-busy="true">…</div>';
      var bubble = bot.querySelector(".bubble");
      turn.appendChild(mine);
      turn.appendChild(bot);
      log.appendChild(turn);
      log.scrollTop = log.scrollHeight;
      var body = new FormData(form);  // the question, the conversation's token, the CSRF token
      button.disabled = true;
      box.value = "";
      var text = "";
      fetch(form.dataset.stream, { method: "POST", body: body, credentials: "same-origin" }).then(function (response) {
        if (!response.ok || !response.body) throw new Error("The answer failed (" + response.status + ").");
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        var pump = function () {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var blocks = buffer.split("\n\n");
            buffer = blocks.pop();
            blocks.forEach(function (block) {
              var name = (block.match(/^event: (.*)$/m) || [])[1];
              var data = JSON.parse((block.match(/^data: (.*)$/m) || [null, "{}"])[1]);
              if (name === "delta") { text += data.text; bubble.textContent = text; }
              else if (name === "done") { turn.outerHTML = data.html; }
              else if (name === "error") { bubble.textContent = data.message; bubble.classList.add("error-text"); }
              log.scrollTop = log.scrollHeight;
            });
            return pump();
          });
        };
        return pump();
      }).catch(function (error) {
        bubble.textContent = error.message;
        bubble.classList.add("error-text");
      }).finally(function () { button.disabled = false; });
    }, true);
  }

  // Enter sends the question (as in the widget); Shift+Enter, or Enter while an input method is
  // composing a character, stays in the box.
  function setupEnterSends(root) {
    root.querySelectorAll("textarea[data-enter-sends]").forEach(function (box) {
      box.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
        event.preventDefault();
        var button = box.form.querySelector("button[type=submit]");
        if (box.value.trim() && !(button && button.disabled)) box.form.requestSubmit(button);
      });
    });
  }

  // Hints that hold for one model only (the offline model ignores instructions, style and tone)
  // follow the model select.
  function setupModelHints(root) {
    var select = root.querySelector("select#model");
    if (!select) return;
    var update = function () {
      root.querySelectorAll("[data-when-model]").forEach(function (hint) {
        hint.hidden = hint.dataset.whenModel !== select.value;
      });
    };
    select.addEventListener("change", update);
  }

  // Opening "why this answer" brings the list into view (it opens below the fold of the log).
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.matches || !details.matches("details.sources") || !details.open) return;
    var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    details.scrollIntoView({ block: "nearest", behavior: still ? "auto" : "smooth" });
  }, true);

  // Forms that ask first: the question is data (never code), shown by confirm().
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    setupPreview(document);
    setupDropzone(document);
    setupSources(document);
    setupCopy(document);
    setupStream(document);
    setupEnterSends(document);
    setupModelHints(document);
  });
})();
