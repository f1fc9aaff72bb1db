// Starts Swagger UI on /docs over the documents the page lists (data-documents), native first.
// Kept in a file of its own, not inline, so the page's Content-Security-Policy allows only
// scripts from the app itself.
//
// Swagger UI 4.15 (the swagger-ui-bundle package) renders OpenAPI 2.0 and 3.0 and refuses a
// 3.1 document outright. Each document is handed to it labelled 3.0 as it arrives; what the
// documents use renders the same under 3.0. The served documents are not changed.
(function () {
  "use strict";
  function asOpenApi30(response) {
    if (typeof response.text !== "string" || !/openapi\.json(\?|$)/.test(response.url || "")) {
      return response;
    }
    try {
      var document = JSON.parse(response.text);
      if (typeof document.openapi === "string" && document.openapi.indexOf("3.1.") === 0) {
        document.openapi = "3.0.3";
        response.text = JSON.stringify(document);
        response.data = response.text;
        response.body = document;
        response.obj = document;
      }
    } catch (ignored) {
      // Not JSON: Swagger UI shows its own error for it.
    }
    return response;
  }
  window.addEventListener("load", function () {
    var root = document.getElementById("swagger-ui");
    var urls = JSON.parse(root.getAttribute("data-documents")).map(function (entry) {
      return { name: entry[0], url: entry[1] };
    });
    window.ui = SwaggerUIBundle({
      urls: urls,
      "urls.primaryName": urls[0].name,
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      responseInterceptor: asOpenApi30,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: "StandaloneLayout"
    });
  });
})();
