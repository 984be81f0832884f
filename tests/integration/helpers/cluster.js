// A node app for cluster-mode tests: answers HTTP on $PORT with its pid.
const http = require('http');
http.createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT));
