// The field mapper: click a source field then a target field (or drag one onto the other) to connect them; each
// connection is a row of the form (from, to, transform) the server turns into a mapping. No inline script (CSP).
(() => {
  const mapper = document.getElementById("mapper");
  if (!mapper) { return; }
  const table = document.getElementById("connections");
  const options = document.getElementById("transform-options");
  let picked = null;

  function connect(source, target) {
    for (const row of table.querySelectorAll("tr[data-to]")) {
      if (row.dataset.to === target) { row.remove(); }  // a target takes one source
    }
    const row = document.createElement("tr");
    row.dataset.from = source; row.dataset.to = target;
    const cell = (text, name) => {
      const td = document.createElement("td");
      td.textContent = text;
      const input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = text;
      td.appendChild(input);
      return td;
    };
    row.appendChild(cell(source, "from"));
    row.appendChild(cell(target, "to"));
    const td = document.createElement("td");
    const select = document.createElement("select");
    select.name = "transform"; select.setAttribute("aria-label", "transform for " + target);
    select.appendChild(options.content.cloneNode(true));
    td.appendChild(select); row.appendChild(td);
    const remove = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button"; button.className = "secondary"; button.textContent = "Remove";
    button.addEventListener("click", () => { row.remove(); mark(); });
    remove.appendChild(button); row.appendChild(remove);
    table.appendChild(row);
    mark();
  }

  function mark() {
    const used = new Set(); const filled = new Set();
    for (const row of table.querySelectorAll("tr[data-to]")) { used.add(row.dataset.from); filled.add(row.dataset.to); }
    mapper.querySelectorAll("#source-fields li").forEach((li) => li.classList.toggle("connected", used.has(li.dataset.field)));
    mapper.querySelectorAll("#target-fields li").forEach((li) => li.classList.toggle("connected", filled.has(li.dataset.field)));
  }

  mapper.querySelectorAll("#source-fields li").forEach((li) => {
    li.addEventListener("click", () => {
      mapper.querySelectorAll("li.picked").forEach((p) => p.classList.remove("picked"));
      picked = li.dataset.field; li.classList.add("picked");
    });
    li.addEventListener("dragstart", (event) => { event.dataTransfer.setData("text/plain", li.dataset.field); });
  });
  mapper.querySelectorAll("#target-fields li").forEach((li) => {
    li.addEventListener("click", () => {
      if (picked) { connect(picked, li.dataset.field); picked = null; mapper.querySelectorAll("li.picked").forEach((p) => p.classList.remove("picked")); }
    });
    li.addEventListener("dragover", (event) => event.preventDefault());
    li.addEventListener("drop", (event) => {
      event.preventDefault();
      const source = event.dataTransfer.getData("text/plain");
      if (source) { connect(source, li.dataset.field); }
    });
  });
  const suggest = document.getElementById("use-suggestions");
  if (suggest) {
    suggest.addEventListener("click", () => {
      mapper.querySelectorAll("#source-fields li[data-suggested]").forEach((li) => connect(li.dataset.field, li.dataset.suggested));
    });
  }
})();
