// ingest's dashboard: for each chart in the metadata's plugins["ingest-dashboard"].charts, fetch its canned
// query's rows as JSON from this Datasette and draw its Vega-Lite spec with them. Nothing is loaded from
// elsewhere. Each chart's element gets data-rows (rows drawn) once drawn, or data-error.
(async function () {
  const root = document.getElementById("ingest-dashboard");
  const base = root.dataset.base || "/";
  const params = new URLSearchParams(window.location.search);
  const getJSON = async (path) => {
    const response = await fetch(base + path);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  };
  const metadata = await getJSON("-/metadata.json");
  const config = (metadata.plugins || {})["ingest-dashboard"] || {charts: []};
  const databases = (await getJSON("-/databases.json")).map((d) => d.name).filter((n) => !n.startsWith("_"));
  const db = params.get("db") || databases[0];
  const days = params.get("days") || String(config.days || 30);
  document.getElementById("ingest-intro").textContent =
    `${config.description || ""} Database: ${db}; the last ${days} days up to the newest data.`;
  for (const link of document.querySelectorAll(".ingest-days a")) {
    const wanted = new URLSearchParams(link.getAttribute("href").slice(1));
    wanted.set("db", db);
    link.setAttribute("href", "?" + wanted.toString());
  }
  await Promise.all(config.charts.map(async (chart) => {
    const card = document.createElement("section");
    card.className = "ingest-chart";
    const title = document.createElement("h2");
    const link = document.createElement("a");
    const query = `${encodeURIComponent(db)}/${encodeURIComponent(chart.query)}`;
    link.href = `${base}${query}?days=${encodeURIComponent(days)}`;
    link.textContent = chart.title;
    title.appendChild(link);
    const note = document.createElement("p");
    note.textContent = chart.description || "";
    const target = document.createElement("div");
    target.className = "chart";
    target.id = "chart-" + chart.query;
    card.append(title, note, target);
    root.appendChild(card);
    try {
      const rows = await getJSON(`${query}.json?_shape=array&days=${encodeURIComponent(days)}`);
      const spec = JSON.parse(JSON.stringify(chart.spec));
      const x = (spec.encoding || {}).x;
      if (x && x.timeUnit === "auto") {  // by day over a few months, by month beyond
        const times = rows.map((r) => Date.parse(r[x.field])).filter((t) => !Number.isNaN(t));
        const span = times.length ? (Math.max(...times) - Math.min(...times)) / 86400000 : 0;
        x.timeUnit = span > 120 ? "yearmonth" : "yearmonthdate";
      }
      Object.assign(spec, {width: "container", height: 220, data: {values: rows}});
      if (!rows.length) {
        target.textContent = "No rows in this window.";
      } else {
        await vegaEmbed(target, spec, {actions: false, renderer: "svg"});
      }
      target.dataset.rows = String(rows.length);
    } catch (error) {
      target.className += " ingest-error";
      target.textContent = String(error);
      target.dataset.error = String(error);
    }
  }));
  root.dataset.ready = "1";
})();
