import { escapeHtml } from '../notify/render.js';

/** Inline styles shared by the report emails (mail clients ignore <style> blocks, so every element carries its own). */
export const FONT = 'font-family:-apple-system,BlinkMacSystemFont,\'Segoe UI\',Helvetica,Arial,sans-serif';
export const TEXT = '#24292f';
export const MUTED = '#57606a';
export const RULE = '#d0d7de';
export const H2 = `margin:24px 0 8px;font-size:17px;color:${TEXT}`;
export const TH = `padding:6px 8px;border-bottom:2px solid ${RULE};font-size:12px;color:${MUTED};font-weight:600`;
export const TD = `padding:6px 8px;border-bottom:1px solid ${RULE};font-size:13px;color:${TEXT};vertical-align:top`;
export const TABLE = 'role="presentation" cellpadding="0" cellspacing="0" border="0"';

/** Only web links become buttons (the URL comes from configuration, but a `javascript:` link in a mail is never right). */
export const isWebUrl = (u: string) => /^https?:\/\//i.test(u);

/** A subject line: no line breaks (header injection), runs of spaces collapsed. */
export const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The "Open in Grafana" button, or nothing without a web URL. */
export function grafanaHtml(url: string | null): string {
  if (url === null || !isWebUrl(url)) return '';
  return `<table ${TABLE} style="margin:16px 0 0"><tr><td bgcolor="#1f6feb" style="border-radius:4px;background:#1f6feb"><a href="${escapeHtml(url)}" style="display:inline-block;padding:10px 18px;color:#ffffff;text-decoration:none;font-weight:bold;font-size:14px">Open in Grafana</a></td></tr></table>`;
}

/** The page around a report's sections: a 640 px card on a grey background, with a hidden preheader for inbox previews. */
export function emailDocument(subject: string, preheader: string, body: readonly string[]): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:0;background:#f6f8fa;${FONT}">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">${escapeHtml(preheader)}</div>
<table ${TABLE} width="100%" style="background:#f6f8fa"><tr><td align="center" style="padding:16px 8px">
<table ${TABLE} width="640" style="width:640px;max-width:640px;background:#ffffff;border:1px solid ${RULE};border-radius:6px"><tr><td style="padding:20px 24px;${FONT};color:${TEXT}">
${body.join('\n')}
</td></tr></table>
</td></tr></table>
</body></html>`;
}
