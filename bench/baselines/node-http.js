// The ceiling for lookup_throughput: a bare node:http server answering a fixed small JSON, no framework.
const http = require("node:http");

const body = JSON.stringify({ ok: true });
http
  .createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
