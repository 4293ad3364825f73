// The baseline for lookup_throughput: the same Express 5 the service uses, one route returning a fixed small JSON,
// no middleware, in its own Node.js process like the service. "The cost of Express itself."
const express = require("express");

const app = express();
app.get("/noop", (_req, res) => {
  res.json({ ok: true });
});
app.get("/readyz", (_req, res) => {
  res.json({ ok: true });
});
app.listen(Number(process.env.PORT), "127.0.0.1");
