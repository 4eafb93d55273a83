import express, { type RequestHandler } from 'express';
import { getAbsoluteFSPath } from 'swagger-ui-dist';
import { escapeHtml } from './html';

/**
 * The admin API's rendered reference: Swagger UI from swagger-ui-dist in node_modules (no CDN),
 * reading the OpenAPI document. The page carries no inline script; the initializer below reads
 * the document's address from the page.
 */

/** The page at `<assets>` (e.g. /admin/docs), its assets under `<assets>/`. */
export function docsPage(assetsPath: string, documentUrl: string): string {
  const assets = escapeHtml(assetsPath);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tika admin API</title>
<link rel="stylesheet" href="${assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-document-url="${escapeHtml(documentUrl)}"></div>
<script src="${assets}/swagger-ui-bundle.js"></script>
<script src="${assets}/swagger-initializer.js"></script>
</body>
</html>
`;
}

/** Replaces swagger-ui-dist's own initializer, which opens the Petstore example. */
const INITIALIZER = `window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({ url: root.getAttribute('data-document-url'), dom_id: '#swagger-ui', deepLinking: true });
});
`;

/** Serves Swagger UI's files; mount it under the page's path. */
export function docsAssets(): RequestHandler {
  const files = express.static(getAbsoluteFSPath(), { index: false, fallthrough: true, maxAge: '1h' });
  return (req, res, next) => {
    if (req.path === '/swagger-initializer.js') {
      res.type('application/javascript').send(INITIALIZER);
      return;
    }
    // Scripts, styles and icons only: the package's own index.html opens the Petstore example.
    if (!/\.(js|css|png|map)$/.test(req.path)) return next();
    files(req, res, next);
  };
}
