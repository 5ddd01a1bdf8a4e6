// Sends one request to fenn with Alibaba Cloud API Gateway's Node.js SDK
// (npm aliyun-api-gateway): its Client signs with an AppKey and AppSecret,
// its SimpleClient sends an AppCode. Usage: node sdk.js '<json>' with
// {url, method: "get"|"post", key, secret | code, data, headers}.
// Prints {status, body} or {status, message, requestId} as JSON.
'use strict';
const { Client, SimpleClient } = require('aliyun-api-gateway');

const o = JSON.parse(process.argv[2]);
const client = o.code !== undefined ? new SimpleClient(o.code) : new Client(o.key, o.secret);

client[o.method](o.url, { data: o.data, headers: o.headers || {}, timeout: 20000 }).then(
  (body) => console.log(JSON.stringify({ status: 200, body })),
  (err) => {
    if (!err.code || !err.data) {
      console.error(err.stack);
      process.exit(2);
    }
    const h = err.data.headers;
    console.log(JSON.stringify({
      status: err.code,
      message: h['x-ca-error-message'] || '',
      requestId: h['x-ca-request-id'] || '',
    }));
  },
);
