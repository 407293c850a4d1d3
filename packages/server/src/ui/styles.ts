import { createHash } from 'node:crypto';

/** The sign-in UI's only stylesheet, served from `/ui/tessera.css` so the CSP can say `style-src 'self'`. */
export const STYLESHEET = `
:root{--bg:#f3f4f8;--card:#fff;--ink:#1b1f2a;--muted:#5b6172;--line:#d9dce5;--brand:#3b4fd8;--brand-ink:#fff;--danger:#b42318;--focus:#1a73e8}
*{box-sizing:border-box}
html,body{margin:0;padding:0}
body{min-height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;background:radial-gradient(1200px 600px at 10% -10%,#dfe4ff 0,transparent 60%),radial-gradient(900px 500px at 110% 110%,#e7dcff 0,transparent 55%),var(--bg);color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;padding:24px}
main{width:100%;max-width:440px;background:var(--card);border-radius:14px;box-shadow:0 1px 2px rgba(16,24,40,.06),0 12px 32px rgba(16,24,40,.10);padding:40px 40px 32px}
.brand{display:flex;align-items:center;gap:10px;font-weight:650;letter-spacing:.2px;margin-bottom:28px;color:var(--ink)}
.logo{width:28px;height:28px;border-radius:7px;background:conic-gradient(from 45deg,#3b4fd8,#7a5af8,#2bb0ed,#3b4fd8);display:inline-block}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 8px;font-weight:650}
p{margin:0 0 16px;color:var(--muted)}
.app{display:flex;align-items:center;gap:12px;padding:12px 14px;border:1px solid var(--line);border-radius:10px;margin:0 0 20px;background:#fafbfd}
.app-badge{width:36px;height:36px;border-radius:8px;background:#eef0ff;color:var(--brand);display:flex;align-items:center;justify-content:center;font-weight:700}
.app strong{display:block;color:var(--ink)}
.app span{font-size:.875rem;color:var(--muted)}
label{display:block;font-weight:600;font-size:.9rem;margin:0 0 6px}
input[type=text],input[type=email],input[type=password]{width:100%;font:inherit;padding:11px 12px;border:1px solid var(--line);border-radius:8px;background:#fff;color:var(--ink);margin:0 0 16px}
input:focus,button:focus,a:focus{outline:3px solid var(--focus);outline-offset:2px}
.actions{display:flex;gap:12px;justify-content:flex-end;margin-top:8px}
button{font:inherit;font-weight:600;padding:10px 18px;border-radius:8px;border:1px solid transparent;cursor:pointer}
.primary{background:var(--brand);color:var(--brand-ink)}
.primary:hover{background:#2f41bd}
.secondary{background:#fff;color:var(--ink);border-color:var(--line)}
.secondary:hover{background:#f4f5f8}
.alert{border:1px solid #f5c2bd;background:#fef3f2;color:var(--danger);border-radius:8px;padding:10px 12px;margin:0 0 16px;font-size:.925rem}
.accounts{list-style:none;margin:0 0 16px;padding:0}
.accounts li{margin:0 0 8px}
.account{width:100%;display:flex;align-items:center;gap:12px;text-align:left;background:#fff;border:1px solid var(--line);padding:12px 14px;font-weight:400}
.account:hover{background:#f7f8fb;border-color:#c3c8d6}
.avatar{width:36px;height:36px;border-radius:50%;background:#e9ecf8;color:#3b4fd8;display:flex;align-items:center;justify-content:center;font-weight:700;flex:none}
.account strong{display:block}
.account span{font-size:.875rem;color:var(--muted)}
.scopes{list-style:none;margin:0 0 16px;padding:0;border:1px solid var(--line);border-radius:10px}
.scopes li{padding:10px 14px;border-top:1px solid var(--line)}
.scopes li:first-child{border-top:0}
.scopes strong{display:block;font-weight:600}
.scopes span{font-size:.875rem;color:var(--muted)}
.tag{display:inline-block;font-size:.75rem;font-weight:600;color:#6941c6;background:#f4ebff;border-radius:999px;padding:1px 8px;margin-left:6px}
.check{display:flex;gap:10px;align-items:flex-start;font-weight:400;margin:0 0 16px}
.check input{margin-top:4px}
.fine{font-size:.8125rem;color:var(--muted);margin-top:20px}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.8125rem;color:var(--muted);word-break:break-all}
footer{margin-top:20px;font-size:.8125rem;color:var(--muted)}
.hidden-frames{position:absolute;width:0;height:0;border:0;visibility:hidden}
.qr{display:block;width:200px;height:200px;margin:0 auto 12px;image-rendering:pixelated}
.secret{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.95rem;letter-spacing:.08em;text-align:center;word-break:break-all;color:var(--ink);margin:0 0 16px}
`;

/** `sha256-…` of the stylesheet, for cache validation. */
export const STYLESHEET_ETAG = `"${createHash('sha256').update(STYLESHEET).digest('base64url').slice(0, 22)}"`;
