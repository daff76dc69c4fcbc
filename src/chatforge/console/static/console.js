// Chatforge console: drag and drop for uploads, the source kind switch, copy buttons.
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
  });
})();
