/* The Goldilocks book: small reader-side helpers (no external library).
   1. Click a figure to see it at full size (Escape, a click or a tap closes it).
   2. Search snippets without the page's chrome (download buttons, Previous/Next) and with
      math as plain text rather than raw TeX.
   3. Display equations wider than their column are scaled down to fit (MathJax 3 does not
      break lines). */
(function () {
  "use strict";

  // -- 1. figures: click to enlarge ---------------------------------------------------------
  function openLightbox(img) {
    const box = document.createElement("div");
    box.className = "gl-lightbox";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", img.alt || "figure");
    const big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt || "";
    box.appendChild(big);
    const close = () => { box.remove(); document.removeEventListener("keydown", onKey); };
    const onKey = (e) => { if (e.key === "Escape") close(); };
    box.addEventListener("click", close);
    document.addEventListener("keydown", onKey);
    document.body.appendChild(box);
  }

  function enableLightbox() {
    document.querySelectorAll("article figure img, article div.cell_output img").forEach((img) => {
      // Sphinx links a sized image (our 2× PNGs shown at 1×) to its own file: the lightbox takes
      // over that link; a link to anything else is kept
      const link = img.closest("a");
      if (link && !(link.classList.contains("image-reference") && link.href === img.src)) return;
      img.classList.add("gl-zoomable");
      img.addEventListener("click", (event) => { event.preventDefault(); openLightbox(img); });
    });
  }

  // -- 2. search snippets ----------------------------------------------------------------------
  const SYMBOLS = {alpha: "α", beta: "β", gamma: "γ", Gamma: "Γ", delta: "δ", Delta: "Δ",
    epsilon: "ε", varepsilon: "ε", theta: "θ", lambda: "λ", mu: "μ", sigma: "σ", Sigma: "Σ",
    tau: "τ", phi: "φ", omega: "ω", R: "ℝ", cdot: "·", times: "×", le: "≤", leq: "≤", ge: "≥",
    geq: "≥", approx: "≈", infty: "∞", to: "→", sum: "Σ", top: "ᵀ", nabla: "∇", in: "∈",
    left: "", right: "", lVert: "‖", rVert: "‖"};

  function plainTex(tex) {
    return tex.replace(/\\norm\{([^{}]*)\}/g, "‖$1‖")
      .replace(/\\(?:operatorname|mathrm|mathbb|mathbf|text|mathcal)\{([^{}]*)\}/g, "$1")
      .replace(/\\([A-Za-z]+)/g, (m, name) => (name in SYMBOLS ? SYMBOLS[name] : name))
      .replace(/\\[,;:! ]/g, " ").replace(/[{}_^]/g, "").replace(/\s+/g, " ").trim();
  }

  function cleanForSearch(htmlString) {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    const chrome = ".bd-header-article, .header-article-items, .prev-next-area, .bd-sidebar-secondary, " +
      ".bd-footer-article, .bd-footer-content, button, .toggle-details__summary, span.eqno";
    doc.querySelectorAll(chrome).forEach((el) => el.remove());
    doc.querySelectorAll("span.math, div.math").forEach((el) => {
      el.textContent = plainTex(el.textContent.replace(/^\s*(\\\(|\\\[|\$\$?)|(\\\)|\\\]|\$\$?)\s*$/g, ""));
    });
    return doc.documentElement.outerHTML;
  }

  function patchSearch() {
    // searchtools.js declares `const Search` (a global binding, not a property of window)
    if (typeof Search !== "object" || !Search.htmlToText || Search._glPatched) return;  // eslint-disable-line no-undef
    const search = Search;  // eslint-disable-line no-undef
    const original = search.htmlToText;
    search.htmlToText = (htmlString, anchor) => original(cleanForSearch(htmlString), anchor);
    search._glPatched = true;
  }

  // -- 3. display equations fit their column ---------------------------------------------------
  function fitEquations() {
    document.querySelectorAll("div.math").forEach((box) => {
      const mjx = box.querySelector("mjx-container");
      if (!mjx) return;
      mjx.style.fontSize = "";
      const eqno = box.querySelector("span.eqno");
      const beside = !getComputedStyle(box).flexDirection.startsWith("column");  // number in the same row
      const room = box.clientWidth - (eqno && beside ? eqno.offsetWidth + 16 : 0);
      const math = mjx.querySelector("mjx-math") || mjx;
      const need = math.getBoundingClientRect().width;
      if (need > room && room > 0) {
        mjx.style.fontSize = Math.max(0.5, (room - 2) / need) * 100 + "%";
      }
    });
  }

  function afterMath(callback) {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(callback, callback);
    else callback();
  }

  let resizeTimer = null;
  function ready() {
    enableLightbox();
    patchSearch();
    afterMath(fitEquations);
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(fitEquations, 100);
    });
    window.addEventListener("beforeprint", fitEquations);
  }

  window.goldilocksFitEquations = fitEquations;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
