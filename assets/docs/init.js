// Starts Swagger UI on index.html (GET /docs). It lives in a file of its own because the
// page's Content-Security-Policy allows no inline script.
"use strict";

(function () {
  // The spec and the API beside this page: at /docs, /openapi.yaml and the root; at
  // /v1/docs, /v1/openapi.yaml and /v1.
  var spec = new URL("openapi.yaml", document.baseURI).href;
  var api = new URL(".", document.baseURI).href.replace(/\/$/, "");

  // "Try it out" sends its requests to a server of the spec's Servers list: the spec names a
  // local clientd on some port, and the page's CSP (connect-src 'self') lets it reach only
  // its own origin. So the server that serves this page is put first in the spec as it is
  // loaded, and so picked by default. (Swagger UI sends to no server the spec does not list.)
  function ThisServerFirst() {
    return {
      statePlugins: {
        spec: {
          wrapActions: {
            updateJsonSpec: function (original) {
              return function (json) {
                var servers = json && Array.isArray(json.servers) ? json.servers : [];
                var listed = servers.some(function (s) { return s && s.url === api; });
                if (json && typeof json === "object" && !listed) {
                  json = Object.assign({}, json, {
                    servers: [{ url: api, description: "the clientd serving this page" }].concat(servers),
                  });
                }
                return original.apply(null, [json].concat([].slice.call(arguments, 1)));
              };
            },
          },
        },
      },
    };
  }

  window.ui = SwaggerUIBundle({
    url: spec,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [ThisServerFirst],
    layout: "BaseLayout",
    deepLinking: true,
    // Every operation's summary in the page, its details folded.
    docExpansion: "list",
    // No badge that would send the spec to an outside validator.
    validatorUrl: null,
    // A token typed into Authorize is forgotten with the page, never kept in localStorage.
    persistAuthorization: false,
    // Never take a spec URL or settings from the query string.
    queryConfigEnabled: false,
  });
})();
