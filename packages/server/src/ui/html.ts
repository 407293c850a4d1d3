/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A hidden form field. */
export function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

/** The page shell: language, viewport, title, the self-served stylesheet, brand header and footer. */
export function layout(title: string, body: string, options: { head?: string } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Tessera</title>
<link rel="stylesheet" href="/ui/tessera.css">
${options.head ?? ''}
</head>
<body>
<main>
<div class="brand" aria-hidden="true"><span class="logo"></span>Tessera</div>
${body}
</main>
<footer>Tessera identity · <span lang="en">Sign-in is protected; never enter your password on a page you did not expect.</span></footer>
</body>
</html>`;
}
