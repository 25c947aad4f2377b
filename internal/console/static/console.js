// Tollgate console: small progressive enhancements. Every page works
// without this file.
document.addEventListener("DOMContentLoaded", function () {
  // Submit the account switcher on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        var old = b.textContent;
        b.textContent = "Copied";
        setTimeout(function () { b.textContent = old; }, 1500);
      });
    });
  });
  // Live tables: data-live names a URL answering the rows; refreshed
  // every 5 seconds while the page is visible.
  document.querySelectorAll("tbody[data-live]").forEach(function (tb) {
    setInterval(function () {
      if (document.hidden) { return; }
      fetch(tb.getAttribute("data-live"), { credentials: "same-origin" }).then(function (r) {
        if (r.redirected) { location.reload(); throw new Error("signed out"); }
        if (r.ok) { return r.text(); }
        throw new Error(r.status);
      }).then(function (html) { tb.innerHTML = html; }).catch(function () {});
    }, 5000);
  });
  // Cost explorer: picking a date means a custom range.
  var range = document.getElementById("range");
  ["start", "end"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el && range) { el.addEventListener("change", function () { range.value = "custom"; }); }
  });
  // Forms that ask before they act (delete).
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
});
