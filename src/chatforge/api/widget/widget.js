/*! Chatforge chat widget. Embed with:
 *   <script src="https://YOUR-CHATFORGE/widget.js" data-chatbot="ID-or-slug" async></script>
 * No dependencies and no build step. Everything renders inside a shadow root, so the host page's
 * CSS cannot reach it. Untrusted text (names, answers, sources, operator replies) only ever goes
 * into the page through textContent, text nodes or checked attribute values: never as HTML.
 */
(() => {
  "use strict";

  const script =
    document.currentScript ||
    document.querySelector("script[data-chatbot],script[data-chatbot-id]");
  if (!script) return;
  const REF = script.dataset.chatbot || script.dataset.chatbotId;
  if (!REF) {
    console.warn('Chatforge: add data-chatbot="ID-or-slug" to the widget\'s script tag.');
    return;
  }
  const BASE = new URL(script.src, location.href).origin;
  const PAGE = script.dataset.mode === "page";
  const API = `${BASE}/api/public/chatbot/${encodeURIComponent(REF)}`;
  const STORE_KEY = `chatforge:${BASE}:${REF}`;
  // The same tag twice (a single-page app re-adding it) still makes one widget.
  const loaded = (window.__chatforge = window.__chatforge || {});
  if (loaded[STORE_KEY]) return;
  loaded[STORE_KEY] = true;
  const POLL_MS = 4000;
  const NS = "http://www.w3.org/2000/svg";

  // ---------------------------------------------------------------- strings (en es fr de pt)
  const KEYS = [
    "open", "close", "newChat", "send", "placeholder", "input", "sources", "source", "human",
    "bot", "emailIntro", "email", "emailInvalid", "start", "typing", "up", "down", "thanks",
    "retry", "rate", "offline", "unavailable", "notAllowed", "tooLong", "waiting", "suggested",
    "you", "agent", "conversation", "powered",
  ];
  const TEXT = {
    en: [
      "Open chat", "Close chat", "New conversation", "Send", "Type your message…", "Your message",
      "Sources", "Source", "You're talking to a person", "You're back with the assistant",
      "Please leave your email so we can follow up.", "Email",
      "Please enter a valid email address.", "Start chat", "Typing…", "Helpful", "Not helpful",
      "Thanks for your feedback!", "Try again",
      "Too many messages. Please wait {s} s and try again.",
      "You're offline. Check your connection and try again.",
      "The chat is unavailable right now. Please try again later.",
      "This chat isn't available on this website.",
      "Your message is too long. Please shorten it.",
      "Message sent. Someone will answer here soon.", "Suggested questions", "You", "Agent",
      "Conversation", "Powered by Chatforge",
    ],
    es: [
      "Abrir chat", "Cerrar chat", "Nueva conversación", "Enviar", "Escribe tu mensaje…",
      "Tu mensaje", "Fuentes", "Fuente", "Estás hablando con una persona",
      "Vuelves a hablar con el asistente",
      "Déjanos tu correo electrónico para poder responderte.", "Correo electrónico",
      "Introduce un correo electrónico válido.", "Empezar", "Escribiendo…", "Útil", "No útil",
      "¡Gracias por tu opinión!", "Reintentar",
      "Demasiados mensajes. Espera {s} s e inténtalo de nuevo.",
      "Estás sin conexión. Comprueba tu conexión e inténtalo de nuevo.",
      "El chat no está disponible en este momento. Inténtalo más tarde.",
      "Este chat no está disponible en este sitio web.",
      "Tu mensaje es demasiado largo. Acórtalo, por favor.",
      "Mensaje enviado. Alguien te responderá aquí pronto.", "Preguntas sugeridas", "Tú",
      "Agente", "Conversación", "Con la tecnología de Chatforge",
    ],
    fr: [
      "Ouvrir le chat", "Fermer le chat", "Nouvelle conversation", "Envoyer",
      "Écrivez votre message…", "Votre message", "Sources", "Source",
      "Vous parlez à une personne", "Vous êtes de retour avec l'assistant",
      "Laissez-nous votre e-mail pour que nous puissions vous recontacter.", "E-mail",
      "Saisissez une adresse e-mail valide.", "Commencer", "En train d'écrire…", "Utile",
      "Pas utile", "Merci pour votre avis !", "Réessayer",
      "Trop de messages. Patientez {s} s puis réessayez.",
      "Vous êtes hors ligne. Vérifiez votre connexion et réessayez.",
      "Le chat est indisponible pour le moment. Réessayez plus tard.",
      "Ce chat n'est pas disponible sur ce site.",
      "Votre message est trop long. Raccourcissez-le.",
      "Message envoyé. Quelqu'un vous répondra ici bientôt.", "Questions suggérées", "Vous",
      "Agent", "Conversation", "Propulsé par Chatforge",
    ],
    de: [
      "Chat öffnen", "Chat schließen", "Neue Unterhaltung", "Senden", "Nachricht eingeben…",
      "Ihre Nachricht", "Quellen", "Quelle", "Sie sprechen mit einer Person",
      "Sie sind wieder beim Assistenten",
      "Bitte hinterlassen Sie Ihre E-Mail-Adresse, damit wir uns melden können.", "E-Mail",
      "Bitte geben Sie eine gültige E-Mail-Adresse ein.", "Chat starten", "Schreibt…",
      "Hilfreich", "Nicht hilfreich", "Danke für Ihr Feedback!", "Erneut versuchen",
      "Zu viele Nachrichten. Bitte warten Sie {s} s und versuchen Sie es erneut.",
      "Sie sind offline. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
      "Der Chat ist gerade nicht verfügbar. Bitte versuchen Sie es später erneut.",
      "Dieser Chat ist auf dieser Website nicht verfügbar.",
      "Ihre Nachricht ist zu lang. Bitte kürzen Sie sie.",
      "Nachricht gesendet. Hier antwortet Ihnen bald jemand.", "Vorgeschlagene Fragen", "Sie",
      "Mitarbeiter", "Unterhaltung", "Bereitgestellt von Chatforge",
    ],
    pt: [
      "Abrir chat", "Fechar chat", "Nova conversa", "Enviar", "Escreva sua mensagem…",
      "Sua mensagem", "Fontes", "Fonte", "Você está falando com uma pessoa",
      "Você voltou a falar com o assistente", "Deixe seu e-mail para que possamos responder.",
      "E-mail", "Digite um e-mail válido.", "Começar", "Digitando…", "Útil", "Não útil",
      "Obrigado pelo seu feedback!", "Tentar novamente",
      "Muitas mensagens. Aguarde {s} s e tente novamente.",
      "Você está offline. Verifique sua conexão e tente novamente.",
      "O chat está indisponível no momento. Tente novamente mais tarde.",
      "Este chat não está disponível neste site.",
      "Sua mensagem é muito longa. Encurte-a, por favor.",
      "Mensagem enviada. Alguém responderá aqui em breve.", "Perguntas sugeridas", "Você",
      "Atendente", "Conversa", "Com tecnologia Chatforge",
    ],
  };
  let lang = "en";
  const pickLanguage = (value) => {
    const code = String(value || "").toLowerCase().slice(0, 2);
    return TEXT[code] ? code : "en";
  };
  const t = (key, s) => TEXT[lang][KEYS.indexOf(key)].replace("{s}", String(s));

  // ---------------------------------------------------------------- small helpers
  /** An element; strings among the children become text nodes, never markup. */
  const h = (tag, attrs, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) el.append(kid);
    return el;
  };
  const PATHS = {
    chat: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z",
    close: "M18 6 6 18M6 6l12 12",
    down: "M6 9l6 6 6-6",
    edit: "M12 20h9M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z",
    send: "M22 2 11 13M22 2l-7 20-4-9-9-4z",
    up: "M7 10v12M15 5.88 14 10h5.83a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2a3.13 3.13 0 0 1 3 3.88Z",
    dislike: "M17 14V2M9 18.12 10 14H4.17a2 2 0 0 1-1.92-2.56l2.33-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.76a2 2 0 0 0-1.79 1.11L12 22a3.13 3.13 0 0 1-3-3.88Z",
  };
  const icon = (name) => {
    const svg = document.createElementNS(NS, "svg");
    const path = document.createElementNS(NS, "path");
    for (const [k, v] of [["viewBox", "0 0 24 24"], ["fill", "none"], ["stroke", "currentColor"],
      ["stroke-width", "2"], ["stroke-linecap", "round"], ["stroke-linejoin", "round"],
      ["aria-hidden", "true"], ["focusable", "false"]]) svg.setAttribute(k, v);
    path.setAttribute("d", PATHS[name]);
    svg.append(path);
    return svg;
  };
  /** An http(s) URL, absolute, or null: javascript:, data: and the like never become links. */
  const safeUrl = (value) => {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, BASE);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  };
  const colour = (value) =>
    typeof value === "string" && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(value) ? value : null;
  const luminance = (hex) => {
    let s = hex.slice(1);
    if (s.length === 3) s = [...s].map((c) => c + c).join("");
    const [r, g, b] = [0, 2, 4].map((i) => {
      const c = parseInt(s.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((m, n) => n - m);
    return (x + 0.05) / (y + 0.05);
  };
  const INK = "#111827";
  /** ``hex`` mixed with white: ``share`` of the colour (a pale background for chips). */
  const tint = (hex, share) => {
    let s = hex.slice(1);
    if (s.length === 3) s = [...s].map((c) => c + c).join("");
    const mix = [0, 2, 4].map((i) => Math.round(parseInt(s.slice(i, i + 2), 16) * share + 255 * (1 - share)));
    return `rgb(${mix.join(",")})`;
  };
  /** The text colour that reads best on ``bg``: white on dark colours, ink on light ones. */
  const textOn = (bg) => (contrast(bg, "#ffffff") >= contrast(bg, INK) ? "#ffffff" : INK);
  const load = () => {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
    } catch {
      return {};
    }
  };
  const state = load(); // {token, session}
  const save = () => {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ token: state.token, session: state.session }));
    } catch {
      /* storage refused (private mode, sandbox): the conversation lasts this page */
    }
  };
  const headers = (extra) => {
    const all = { Accept: "application/json", ...extra };
    if (state.token) all["X-Visitor-Token"] = state.token;
    return all;
  };

  /** A failure a visitor can be told about: kind is rate, offline, unavailable, notAllowed,
   * tooLong, invalid (422) or gone (the chatbot or the session no longer exists). */
  class Problem extends Error {
    constructor(kind, wait) {
      super(kind);
      this.kind = kind;
      this.wait = wait || 0;
    }
  }
  const problemFrom = async (res) => {
    let error = {};
    try {
      error = (await res.json()).error || {};
    } catch {
      /* not our JSON: a proxy's page */
    }
    return problemOf(res.status, error, res.headers.get("Retry-After"));
  };
  const problemOf = (status, error, retryAfter) => {
    const code = error.code;
    if (status === 429 || code === "rate_limited") {
      const wait = Number(retryAfter || (error.details && error.details.retry_after)) || 10;
      return new Problem("rate", Math.ceil(wait));
    }
    if (code === "origin_not_allowed") return new Problem("notAllowed");
    if (code === "message_too_long" || status === 413) return new Problem("tooLong");
    if (status === 422) return new Problem("invalid");
    if (status === 404) return new Problem("gone");
    return new Problem("unavailable");
  };
  const request = async (path, init) => {
    let res;
    try {
      res = await fetch(API + path, { mode: "cors", credentials: "omit", ...init });
    } catch {
      throw new Problem(navigator.onLine === false ? "offline" : "unavailable");
    }
    if (!res.ok) throw await problemFrom(res);
    return res;
  };
  const postJson = (path, body, extra) =>
    request(path, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", ...extra }),
      body: JSON.stringify(body),
    });
  const remember = (data) => {
    if (data.visitor_token) state.token = data.visitor_token;
    if (data.session_id) state.session = data.session_id;
    save();
  };

  /** Server-Sent Events from a fetch response: yields {event, data}. */
  async function* events(res) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) {
          try {
            yield { event: name, data: JSON.parse(data.join("\n")) };
          } catch {
            /* a line that is not JSON is not ours */
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------- safe Markdown
  const INLINE =
    /`([^`\n]+)`|\*\*(\S(?:.*?\S)?)\*\*|\*([^*\s](?:[^*\n]*[^*\s])?)\*|\[([^\]\n]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)|\[(\d{1,3})\]|(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"])|\n/g;

  /** Inline Markdown as DOM nodes: code, bold, italics, http(s) links, [n] citations. */
  const inline = (text, ctx) => {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1] != null) out.push(h("code", { text: m[1] }));
      else if (m[2] != null) out.push(h("strong", null, inline(m[2], ctx)));
      else if (m[3] != null) out.push(h("em", null, inline(m[3], ctx)));
      else if (m[4] != null) {
        const href = safeUrl(m[5]);
        const label = inline(m[4], ctx);
        out.push(href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label) : label);
      } else if (m[6] != null) {
        // Keep a citation on the line of the word before it.
        const prev = out[out.length - 1];
        const word = typeof prev === "string" && /(\S+)\s*$/.exec(prev);
        if (word) {
          out[out.length - 1] = prev.slice(0, word.index);
          out.push(h("span", { class: "nw" }, word[1] + (/\s$/.test(prev) ? "\u00a0" : ""), citation(Number(m[6]), ctx)));
        } else out.push(citation(Number(m[6]), ctx));
      }
      else if (m[7] != null) {
        const href = safeUrl(m[7]);
        out.push(href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, m[7]) : m[7]);
      } else out.push(h("br"));
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  };
  const ITEM = /^\s*(?:([-*+])|(\d{1,3})[.)])\s+(.*)$/;

  /** Block Markdown (paragraphs, lists, code fences, headings) as a fragment of DOM nodes. */
  const markdown = (text, ctx) => {
    const frag = document.createDocumentFragment();
    const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    let para = [];
    const flush = () => {
      if (para.length) frag.append(h("p", null, inline(para.join("\n"), ctx)));
      para = [];
    };
    for (let i = 0; i < lines.length; ) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        flush();
        const code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        frag.append(h("pre", null, h("code", { text: code.join("\n") })));
        i++;
        continue;
      }
      const item = ITEM.exec(line);
      if (item) {
        flush();
        const ordered = !item[1];
        const list = h(ordered ? "ol" : "ul", ordered && item[2] !== "1" ? { start: item[2] } : null);
        for (let m; i < lines.length && (m = ITEM.exec(lines[i])) && !m[1] === ordered; i++) {
          list.append(h("li", null, inline(m[3], ctx)));
        }
        frag.append(list);
        continue;
      }
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        frag.append(h("p", null, h("strong", null, inline(heading[1], ctx))));
      } else if (line.trim()) para.push(line);
      else flush();
      i++;
    }
    flush();
    return frag;
  };

  // ---------------------------------------------------------------- styles
  const CSS = `
:host{all:initial}
*{box-sizing:border-box}
[hidden]{display:none!important}
.root{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:${INK};-webkit-font-smoothing:antialiased}
button{font:inherit;color:inherit}
button:focus-visible,a:focus-visible,textarea:focus-visible,input:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border:0;border-radius:50%;background:var(--primary);color:var(--on-primary);box-shadow:0 6px 24px rgba(0,0,0,.22);cursor:pointer;display:grid;place-items:center;transition:transform .15s}
.bubble:hover{transform:scale(1.06)}
.bubble svg{width:28px;height:28px}
.panel{position:fixed;right:20px;bottom:92px;z-index:2147483000;width:380px;height:min(640px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;border-radius:16px;box-shadow:0 12px 48px rgba(0,0,0,.2);overflow:hidden}
.page{height:100%;background:#f3f4f6}
.page .panel{position:relative;inset:auto;margin:0 auto;width:100%;max-width:820px;height:100%;border-radius:0;box-shadow:0 0 0 1px #e5e7eb}
.head{display:flex;align-items:center;gap:10px;padding:12px 10px 12px 16px;background:var(--primary);color:var(--on-primary);flex:none}
.logo{width:38px;height:38px;border-radius:50%;object-fit:cover;background:#fff;flex:none}
.titles{flex:1;min-width:0}
.title{font-size:16px;font-weight:600;margin:0;line-height:1.3}
.title,.slogan{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.slogan{font-size:12.5px;margin:0;opacity:.9}
.icon{flex:none;background:transparent;border:0;width:36px;height:36px;border-radius:8px;display:grid;place-items:center;cursor:pointer}
.icon:hover{background:rgba(127,127,127,.22)}
.icon svg{width:20px;height:20px}
.banner{flex:none;background:#fef3c7;color:#78350f;padding:7px 16px;font-size:13px;text-align:center;font-weight:500}
.log{flex:1;overflow-y:auto;padding:16px;display:flex;flex-direction:column;gap:12px;background:#f9fafb;overscroll-behavior:contain}
.row{display:flex;gap:8px;align-items:flex-start}
.row.user{justify-content:flex-end}
.avatar{width:28px;height:28px;border-radius:50%;flex:none;object-fit:cover;background:var(--primary);color:var(--on-primary);display:grid;place-items:center;font-size:13px;font-weight:600}
.avatar.agent{background:#fcd34d;color:#78350f}
.col{max-width:85%;min-width:0;display:flex;flex-direction:column;align-items:flex-start}
.user .col{align-items:flex-end}
.who{font-size:12px;color:#4b5563;margin:0 0 2px 4px}
.msg{max-width:100%;padding:9px 13px;border-radius:16px;background:#fff;border:1px solid #e5e7eb;overflow-wrap:anywhere;white-space:normal}
.user .msg{white-space:pre-wrap;background:var(--primary);color:var(--on-primary);border-color:transparent;border-bottom-right-radius:4px}
.bot .msg,.human .msg{border-bottom-left-radius:4px}
.human .msg{border-color:#fcd34d;background:#fffbeb}
.msg p{margin:0 0 8px}.msg p:last-child{margin:0}
.msg ul,.msg ol{margin:0 0 8px;padding-left:20px}
.msg code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;border-radius:4px}
.msg pre{background:#f3f4f6;padding:8px 10px;border-radius:8px;overflow-x:auto;margin:0 0 8px}
.msg pre code{background:none;padding:0}
.msg a{color:var(--accent)}
.user .msg a{color:inherit}
.msg .srcs{list-style:none;margin:0 0 8px;padding:0 0 8px;display:flex;flex-wrap:wrap;gap:6px;border-bottom:1px solid #f3f4f6}
.srcs-title{width:100%;font-size:12px;font-weight:600;color:#4b5563}
.src{display:inline-flex;align-items:center;gap:5px;max-width:100%;font-size:12px;line-height:1.4;padding:3px 9px 3px 4px;border:1px solid #e5e7eb;border-radius:999px;color:#374151;background:#f9fafb;text-decoration:none}
a.src:hover{border-color:var(--accent)}
.src span:last-child{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:220px}
.n{flex:none;display:inline-grid;place-items:center;min-width:18px;height:18px;border-radius:9px;padding:0 4px;font-size:11px;font-weight:700;background:var(--soft);color:var(--accent)}
.src.hl{border-color:var(--accent);background:var(--soft)}
.nw{white-space:nowrap}
.msg .cite{display:inline;padding:1px 5px;margin:0 1px;font-family:inherit;border:0;border-radius:9px;font-size:10.5px;font-weight:700;line-height:1;vertical-align:super;background:var(--soft);color:var(--accent);text-decoration:none;cursor:pointer}
.live .body>:last-child::after{content:"";display:inline-block;width:2px;height:1em;margin-left:2px;vertical-align:-2px;background:currentColor;animation:c 1s steps(2) infinite}
@keyframes c{50%{opacity:0}}
.typing{display:inline-flex;gap:4px;padding:4px 0}
.typing i{width:7px;height:7px;border-radius:50%;background:#9ca3af;animation:b 1.2s infinite}
.typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}
@keyframes b{0%,60%,100%{opacity:.35;transform:none}30%{opacity:1;transform:translateY(-3px)}}
.fb{display:flex;align-items:center;gap:2px;margin:2px 0 0 2px;font-size:12px;color:#4b5563}
.fb button{border:0;background:transparent;width:28px;height:28px;border-radius:6px;display:grid;place-items:center;cursor:pointer;color:#6b7280}
.fb button:hover{background:#f3f4f6;color:${INK}}
.fb button[aria-pressed=true]{color:var(--accent);background:var(--soft)}
.fb svg{width:15px;height:15px}
.note{align-self:center;font-size:12.5px;color:#4b5563;background:#f3f4f6;border-radius:999px;padding:3px 12px;text-align:center}
.sugg{flex:none;display:flex;flex-wrap:wrap;gap:8px;padding:4px 16px 12px;background:#f9fafb;justify-content:flex-end}
.sugg button{border:1px solid var(--secondary);background:#fff;border-radius:999px;padding:6px 12px;cursor:pointer;text-align:left}
.sugg button:hover{background:var(--soft)}
.alert{flex:none;margin:0 12px 10px;padding:9px 12px;border-radius:10px;background:#fef2f2;color:#991b1b;display:flex;gap:10px;align-items:center;font-size:13px}
.alert p{margin:0;flex:1}
.alert button{flex:none;border:1px solid #fca5a5;background:#fff;border-radius:8px;padding:4px 10px;cursor:pointer;color:#991b1b}
.alert button:disabled{opacity:.55;cursor:default}
.composer{flex:none;display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e5e7eb;background:#fff;align-items:flex-end}
textarea,input{flex:1;min-width:0;border:1px solid #d1d5db;border-radius:12px;padding:10px 12px;font:inherit;color:inherit;background:#fff}
textarea{resize:none;height:42px;max-height:132px}
.send{flex:none;width:42px;height:42px;border-radius:12px;border:0;background:var(--primary);color:var(--on-primary);display:grid;place-items:center;cursor:pointer}
.send:disabled{opacity:.45;cursor:default}
.send svg{width:19px;height:19px}
.email{flex:none;padding:14px 16px;border-top:1px solid #e5e7eb;background:#fff;display:flex;flex-direction:column;gap:8px}
.email p{margin:0}
.email label{font-size:13px;font-weight:600}
.email .row2{display:flex;gap:8px}
.email .go{flex:none;border:0;border-radius:12px;padding:0 16px;background:var(--primary);color:var(--on-primary);cursor:pointer;font-weight:600}
.err{color:#b91c1c;font-size:13px}
.foot{flex:none;font-size:11px;color:#6b7280;text-align:center;padding:0 0 6px;background:#fff}
.callbar{flex:none;display:flex;align-items:center;gap:10px;padding:8px 12px;border-top:1px solid #e5e7eb;background:#fff}
.call{flex:none;border:0;padding:9px 16px;font-weight:600;cursor:pointer;background:var(--primary);color:var(--on-primary);border-radius:8px}
.call[aria-pressed="true"]{box-shadow:0 0 0 3px rgba(220,38,38,.35)}
.call-state{font-size:13px;color:#374151;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.fatal{flex:1;display:grid;place-items:center;padding:24px;text-align:center;color:#374151;background:#f9fafb}
.fatal div{display:flex;flex-direction:column;gap:12px;align-items:center}
.fatal button{border:0;border-radius:10px;padding:8px 16px;background:var(--primary);color:var(--on-primary);cursor:pointer}
.sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
@media (max-width:480px){.root:not(.page) .panel{inset:0;width:100%;height:100%;border-radius:0}.root.open:not(.page) .bubble{display:none}textarea,input{font-size:16px}}
@media (prefers-reduced-motion:reduce){.typing i,.live .body>:last-child::after{animation:none}.bubble{transition:none}}
`;

  // ---------------------------------------------------------------- the widget
  let config = null;
  let host, root, panel, bubble, header, logo, title, slogan, closeBtn, newBtn, banner, log, sugg;
  let alertBox, composer, input, sendBtn, emailForm, status, fatal;
  let open = PAGE;
  let busy = false;
  let humanMode = false;
  let hasEmail = false;
  let lastId = null;
  let pollTimer = null;
  let polling = false;
  let known = new Set();
  let pending = []; // user messages shown but not yet known by id: [{text, el}]

  const mount = () => {
    // Outside the hosted page, the widget is a landmark of its own, beside the site's content.
    host = h("div", { id: "chatforge-widget", role: PAGE ? null : "complementary" });
    if (PAGE) host.style.cssText = "display:block;height:100%";
    const shadow = host.attachShadow({ mode: "open" });
    // A constructed style sheet needs no 'unsafe-inline' in the host page's CSP.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch {
      shadow.append(h("style", { text: CSS }));
    }
    root = h("div", { class: PAGE ? "root page open" : "root" });
    bubble = h("button", {
      class: "bubble", type: "button", "aria-expanded": "false", "aria-controls": "cf-panel",
      onclick: () => (open ? hide() : show()),
    });
    title = h(PAGE ? "h1" : "h2", { class: "title", id: "cf-title" });
    slogan = h("p", { class: "slogan" });
    logo = h("img", { class: "logo", alt: "", hidden: true });
    newBtn = h("button", { class: "icon", type: "button", onclick: newConversation }, icon("edit"));
    closeBtn = h("button", { class: "icon", type: "button", onclick: hide }, icon("down"));
    header = h("div", { class: "head" }, logo, h("div", { class: "titles" }, title, slogan), newBtn,
      PAGE ? null : closeBtn);
    banner = h("div", { class: "banner", hidden: true });
    log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
    log.addEventListener("scroll", () => { following = log.scrollTop >= autoTop - 2 || nearBottom(); }, { passive: true });
    sugg = h("div", { class: "sugg", role: "group", hidden: true });
    alertBox = h("div", { class: "alert", role: "alert", hidden: true });
    input = h("textarea", { rows: "1", oninput: grow, onkeydown: onKey });
    sendBtn = h("button", { class: "send", type: "submit", disabled: true }, icon("send"));
    composer = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); send(input.value); } },
      input, sendBtn);
    emailForm = h("form", { class: "email", novalidate: true, hidden: true, onsubmit: submitEmail });
    status = h("div", { class: "sr", role: "status" });
    fatal = h("div", { class: "fatal", hidden: true });
    panel = h("div", {
      class: "panel", id: "cf-panel", role: PAGE ? "main" : "dialog", "aria-labelledby": "cf-title",
      hidden: !PAGE, onkeydown: onPanelKey,
    }, header, banner, log, fatal, sugg, alertBox, emailForm, composer,
      h("p", { class: "foot", text: "" }), status);
    root.append(panel, PAGE ? null : bubble);
    shadow.append(root);
    // An async script in <head> may run before <body> exists.
    const attach = () => ((PAGE && document.getElementById("chatforge")) || document.body).append(host);
    if (document.body) attach();
    else document.addEventListener("DOMContentLoaded", attach, { once: true });
    setTheme();
  };

  const setTheme = () => {
    const snip = (config && config.snippet) || {};
    lang = pickLanguage((config && config.language) || snip.language || document.documentElement.lang || navigator.language);
    const primary = colour(snip.primaryColor) || "#4f46e5";
    const secondary = colour(snip.secondaryColor) || primary;
    const accent = contrast(primary, "#ffffff") >= 4.5 ? primary : INK;
    const vars = {
      "--primary": primary, "--on-primary": textOn(primary), "--secondary": secondary,
      "--accent": accent, "--soft": tint(accent, 0.12),
    };
    for (const [k, v] of Object.entries(vars)) root.style.setProperty(k, v);
    const name = (config && (snip.header || snip.name || config.name)) || "";
    title.textContent = name || t("conversation");
    if (!PAGE) host.setAttribute("aria-label", title.textContent);
    slogan.textContent = snip.slogan || "";
    slogan.hidden = !snip.slogan;
    const logoUrl = safeUrl(snip.logo) || safeUrl(config && config.avatar);
    logo.hidden = !logoUrl;
    if (logoUrl) logo.src = logoUrl;
    setBubble();
    newBtn.setAttribute("aria-label", t("newChat"));
    newBtn.title = t("newChat");
    closeBtn.setAttribute("aria-label", t("close"));
    closeBtn.title = t("close");
    log.setAttribute("aria-label", t("conversation"));
    sugg.setAttribute("aria-label", t("suggested"));
    input.placeholder = t("placeholder");
    input.setAttribute("aria-label", t("input"));
    sendBtn.setAttribute("aria-label", t("send"));
    panel.querySelector(".foot").textContent = t("powered");
  };

  const setBubble = () => {
    bubble.setAttribute("aria-label", open ? t("close") : t("open"));
    bubble.setAttribute("aria-expanded", String(open));
    bubble.replaceChildren(icon(open ? "close" : "chat"));
  };
  /** Opens the panel; focus moves into it when the visitor asked (not on a page load). */
  const show = (byVisitor = true) => {
    open = true;
    root.classList.add("open");
    panel.hidden = false;
    if (!PAGE) panel.setAttribute("aria-modal", String(fullScreen()));
    setBubble();
    try { sessionStorage.setItem(STORE_KEY + ":open", "1"); } catch { /* no storage */ }
    if (byVisitor) focusInput();
    scrollDown(true);
    startPolling();
  };
  const hide = () => {
    if (PAGE) return;
    open = false;
    root.classList.remove("open");
    panel.hidden = true;
    setBubble();
    try { sessionStorage.removeItem(STORE_KEY + ":open"); } catch { /* no storage */ }
    stopPolling();
    bubble.focus();
  };
  const focusInput = () => {
    if (!fatal.hidden) return fatal.querySelector("button")?.focus();
    (emailForm.hidden ? input : emailForm.querySelector("input")).focus({ preventScroll: true });
  };
  const grow = () => {
    input.style.height = "42px";
    input.style.height = `${Math.min(input.scrollHeight + 2, 132)}px`;
    sendBtn.disabled = busy || !input.value.trim();
  };
  const onKey = (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send(input.value);
    }
  };
  // On a phone the open panel covers the page: it is modal there, and Tab stays inside it.
  const fullScreen = () => !PAGE && window.matchMedia("(max-width: 480px)").matches;
  const onPanelKey = (e) => {
    if (e.key === "Escape" && !PAGE) return hide();
    if (e.key !== "Tab" || !fullScreen()) return;
    const items = [...panel.querySelectorAll("button, [href], textarea, input, select, [tabindex]")]
      .filter((el) => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length);
    if (!items.length) return;
    const first = items[0], last = items[items.length - 1], at = panel.getRootNode().activeElement;
    if (e.shiftKey && (at === first || !panel.contains(at))) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && at === last) { e.preventDefault(); first.focus(); }
  };
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  // Whether the visitor is following the end of the conversation, as of their last scroll:
  // measured when they scroll, not after an answer grew (which would look like scrolling away).
  let following = true;
  let autoTop = 0; // where the widget itself last scrolled to; only scrolling above it is the visitor's
  const scrollDown = (force) => {
    if (force || following) {
      log.scrollTop = log.scrollHeight;
      autoTop = log.scrollTop;
      following = true;
    }
  };
  const announce = (text) => {
    status.textContent = "";
    setTimeout(() => (status.textContent = text), 50);
  };

  // ------------------------------------------------ messages
  const avatar = () => {
    const url = safeUrl(config && config.avatar) || safeUrl(config && config.snippet && config.snippet.logo);
    if (url) return h("img", { class: "avatar", src: url, alt: "" });
    const name = (config && config.name) || "?";
    return h("span", { class: "avatar", "aria-hidden": "true", text: [...name.trim()][0] || "?" });
  };
  /** One message in the log; kind is user, bot or human. Returns its record. */
  const addMessage = (kind, text, extra) => {
    const rec = { kind, text: text || "", sources: [], id: null, rating: null, ...extra };
    rec.body = h("div", { class: "body" });
    rec.srcs = h("ol", { class: "srcs", hidden: true });
    rec.msg = h("div", { class: "msg" }, rec.srcs, rec.body);
    const label = kind === "user" ? t("you") : kind === "human" ? t("agent") : (config && config.name) || "";
    rec.col = h("div", { class: "col" }, kind === "human" ? h("p", { class: "who", text: t("agent") }) : null, h("span", { class: "sr", text: `${label}: ` }), rec.msg);
    const face = kind === "human" ? h("span", { class: "avatar agent", "aria-hidden": "true", text: t("agent")[0] }) : avatar();
    rec.el = h("div", { class: `row ${kind}` }, kind === "user" ? null : face, rec.col);
    log.append(rec.el);
    renderSources(rec);
    render(rec);
    if (rec.id) track(rec);
    scrollDown(kind === "user");
    return rec;
  };
  const track = (rec) => {
    known.add(rec.id);
    lastId = rec.id;
    if (rec.kind === "bot") addFeedback(rec);
  };
  const render = (rec) => {
    if (rec.kind === "user") rec.body.replaceChildren(rec.text);
    else if (rec.typing && !rec.text) rec.body.replaceChildren(h("span", { class: "typing", "aria-label": t("typing") }, h("i"), h("i"), h("i")));
    else rec.body.replaceChildren(markdown(rec.text, rec));
    rec.msg.classList.toggle("live", !!rec.typing && !!rec.text);
  };
  /** The sources an answer cites by ``[n]``; all of them when it cites none by number. */
  const cited = (text, sources) => {
    const refs = new Set([...String(text).matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])));
    const used = sources.filter((s, i) => refs.has(s.ref || i + 1));
    return used.length ? used : sources;
  };
  /** One chip a document: the passages of one FAQ or page cited twice are one source. */
  const renderSources = (rec) => {
    const chips = new Map();
    (rec.sources || []).forEach((s, i) => {
      const n = s.ref || i + 1;
      const url = safeUrl(s.url);
      const name = s.title || s.source || `${t("source")} ${n}`;
      const key = `${url || ""}\u0000${name}`;
      if (chips.has(key)) chips.get(key).refs.push(n);
      else chips.set(key, { url, name, refs: [n] });
    });
    const items = [...chips.values()].map(({ url, name, refs }) => {
      const kids = [h("span", { class: "n", text: refs.join(", ") }), h("span", { text: name })];
      const chip = url
        ? h("a", { class: "src", href: url, target: "_blank", rel: "noopener noreferrer", title: name }, kids)
        : h("span", { class: "src", title: name, tabindex: "-1" }, kids);
      chip.dataset.refs = refs.join(" ");
      return h("li", null, chip);
    });
    rec.srcs.replaceChildren(...(items.length ? [h("li", { class: "srcs-title", text: t("sources") }), ...items] : []));
    rec.srcs.hidden = !items.length;
  };
  /** ``[n]``: a link to source n (its page for web items; otherwise it points at the chip). */
  const citation = (n, rec) => {
    const sources = (rec && rec.sources) || [];
    const source = sources.find((s, i) => (s.ref || i + 1) === n);
    if (!source) return `[${n}]`;
    const label = `${t("source")} ${n}: ${source.title || source.source || ""}`;
    const url = safeUrl(source.url);
    if (url) return h("a", { class: "cite", href: url, target: "_blank", rel: "noopener noreferrer", title: label, "aria-label": label }, String(n));
    return h("button", {
      class: "cite", type: "button", title: label, "aria-label": label,
      onclick: () => {
        const chip = rec.srcs.querySelector(`[data-refs~="${n}"]`);
        if (!chip) return;
        chip.classList.add("hl");
        chip.scrollIntoView({ block: "nearest" });
        chip.focus();
        setTimeout(() => chip.classList.remove("hl"), 1600);
      },
    }, String(n));
  };
  const addFeedback = (rec) => {
    if (rec.fb) return;
    const thanks = h("span", { text: "", "aria-live": "polite" });
    const button = (rating, name, label) =>
      h("button", {
        type: "button", "aria-label": label, title: label, "aria-pressed": String(rec.rating === rating),
        onclick: async () => {
          try {
            await postJson(`/sessions/${encodeURIComponent(state.session)}/messages/${encodeURIComponent(rec.id)}/feedback`, { rating });
            rec.rating = rating;
            for (const b of rec.fb.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.rating === rating));
            thanks.textContent = t("thanks");
          } catch (err) {
            problem(err);
          }
        },
      }, icon(name));
    const up = button("up", "up", t("up"));
    const down = button("down", "dislike", t("down"));
    up.dataset.rating = "up";
    down.dataset.rating = "down";
    rec.fb = h("div", { class: "fb" }, up, down, thanks);
    rec.col.append(rec.fb);
  };
  const note = (text) => {
    log.append(h("p", { class: "note", text }));
    scrollDown(false);
  };
  const setHumanMode = (on, quiet) => {
    if (on === humanMode) return;
    humanMode = on;
    banner.textContent = t("human");
    banner.hidden = !on;
    if (!quiet) note(on ? t("human") : t("bot"));
  };

  const greet = () => {
    known = new Set();
    pending = [];
    lastId = null;
    log.replaceChildren();
    const greeting = config && config.greeting;
    if (greeting) addMessage("bot", greeting);
    const starters = (config && Array.isArray(config.suggestions) ? config.suggestions : []).filter((s) => typeof s === "string" && s.trim());
    sugg.replaceChildren(...starters.slice(0, 6).map((s) => h("button", { type: "button", text: s, onclick: () => send(s) })));
    sugg.hidden = !starters.length;
  };
  const setComposer = () => {
    const askEmail = config && config.requestEmail && !hasEmail;
    emailForm.hidden = !askEmail;
    composer.hidden = !!askEmail;
    if (askEmail) sugg.hidden = true;
    sendBtn.disabled = busy || !input.value.trim();
  };

  // ------------------------------------------------ errors
  let clearAlert = () => {};
  const sayable = (kind) => (["offline", "notAllowed", "tooLong"].includes(kind) ? kind : "unavailable");
  const problem = (err, retry) => {
    const kind = err instanceof Problem ? err.kind : "unavailable";
    clearAlert();
    const text = kind === "rate" ? t("rate", err.wait) : t(sayable(kind));
    const kids = [h("p", { text })];
    let timer = null;
    if (retry && kind !== "notAllowed" && kind !== "tooLong") {
      const again = h("button", { type: "button", text: t("retry"), onclick: () => { clearAlert(); retry(); } });
      if (kind === "rate") {
        again.disabled = true;
        timer = setTimeout(() => { again.disabled = false; }, err.wait * 1000);
      }
      kids.push(again);
    }
    alertBox.replaceChildren(...kids);
    alertBox.hidden = false;
    clearAlert = () => {
      clearTimeout(timer);
      alertBox.hidden = true;
      alertBox.replaceChildren();
    };
  };
  const showFatal = (err) => {
    const kind = err instanceof Problem ? err.kind : "unavailable";
    const kids = [h("p", { text: t(sayable(kind)) })];
    if (kind !== "notAllowed") kids.push(h("button", { type: "button", text: t("retry"), onclick: boot }));
    fatal.replaceChildren(h("div", null, kids));
    fatal.hidden = false;
    for (const el of [log, sugg, composer, emailForm, alertBox, banner]) el.hidden = true;
    newBtn.hidden = true;
  };

  // ------------------------------------------------ conversation
  async function send(raw) {
    const text = String(raw || "").trim();
    if (!text || busy) return;
    clearAlert();
    sugg.hidden = true;
    input.value = "";
    grow();
    busy = true;
    const user = addMessage("user", text);
    pending.push(user);
    const bot = addMessage("bot", "", { typing: true });
    log.setAttribute("aria-busy", "true");
    announce(t("typing"));
    let finished = false;
    let timer = null;
    const paint = () => {
      timer = null;
      render(bot);
      scrollDown(false);
    };
    try {
      const body = { messages: [{ role: "user", content: text }] };
      if (state.session) body.session_id = state.session;
      const res = await postJson("/chat?stream=true", body, { Accept: "text/event-stream" });
      for await (const { event, data } of events(res)) {
        if (event === "session") remember(data);
        else if (event === "sources") {
          bot.sources = data.sources || [];
          renderSources(bot);
          scrollDown(false);
        } else if (event === "delta") {
          bot.text += data.content || "";
          timer = timer || setTimeout(paint, 40);
        } else if (event === "done") {
          finished = true;
          clearTimeout(timer);
          finish(bot, data.message);
        } else if (event === "error") {
          throw problemOf(0, data.error || {}, null);
        }
      }
      if (!finished) throw new Problem("unavailable");
    } catch (err) {
      clearTimeout(timer);
      bot.typing = false;
      if (!bot.text) bot.el.remove();
      else render(bot);
      if (err instanceof Problem && err.kind === "gone" && state.session) {
        // The stored conversation is gone (deleted by an operator): the retry starts a new one.
        state.session = null;
        save();
      }
      problem(err, () => {
        user.el.remove();
        bot.el.remove();
        pending = pending.filter((p) => p !== user);
        send(text);
      });
      announce(alertBox.textContent);
    } finally {
      busy = false;
      bot.typing = false;
      log.setAttribute("aria-busy", "false");
      grow();
      if (open) focusInput();
    }
  }
  const finish = (bot, message) => {
    bot.typing = false;
    if (!message) {
      // A person has the conversation: the message waits for them; polling shows the reply.
      bot.el.remove();
      setHumanMode(true, false);
      if (!log.querySelector(".note.wait")) {
        const wait = h("p", { class: "note wait", text: t("waiting") });
        log.append(wait);
      }
      scrollDown(true);
      return;
    }
    bot.id = message.id;
    bot.text = message.content || bot.text;
    // The stored answer's sources replace the streamed ones (none when it found nothing), and
    // of them the chips keep those the answer cites: a passage it did not use is no source.
    if (Array.isArray(message.sources)) bot.sources = cited(bot.text, message.sources);
    renderSources(bot);
    render(bot);
    track(bot);
    scrollDown(false);
  };

  /** A message read back from the server (restore and polling), shown once. */
  const adopt = (m) => {
    if (!m || !m.id || known.has(m.id)) return;
    if (m.sender_type === "user") {
      const i = pending.findIndex((p) => p.text === String(m.content || "").trim());
      if (i >= 0) {
        known.add(m.id);
        lastId = m.id;
        pending.splice(i, 1);
        return;
      }
    }
    const kind = m.sender_type === "user" ? "user" : m.sender_type === "human" ? "human" : "bot";
    log.querySelector(".note.wait")?.remove();
    addMessage(kind, m.content, { id: m.id, sources: cited(m.content || "", m.sources || []), rating: m.rating || null });
  };

  const readBack = async (after) => {
    const query = after ? `?after=${encodeURIComponent(after)}` : "";
    const res = await request(`/sessions/${encodeURIComponent(state.session)}${query}`, { headers: headers() });
    return res.json();
  };
  const restore = async () => {
    if (!state.session || !state.token) return false;
    try {
      const data = await readBack(null);
      hasEmail = !!data.session.has_email;
      setHumanMode(!!data.session.is_human_mode, true);
      for (const m of data.messages || []) adopt(m);
      if ((data.messages || []).length) sugg.hidden = true;
      return true;
    } catch (err) {
      if (err instanceof Problem && err.kind === "gone") {
        state.session = null;
        save();
        return false;
      }
      throw err;
    }
  };
  const poll = async () => {
    if (!state.session || !state.token || busy || polling || !open || document.hidden || !config) return;
    polling = true;
    try {
      const data = await readBack(lastId);
      if (busy) return;
      setHumanMode(!!data.session.is_human_mode, false);
      for (const m of data.messages || []) adopt(m);
    } catch {
      /* a missed poll is retried by the next one */
    } finally {
      polling = false;
    }
  };
  const startPolling = () => {
    if (!pollTimer) pollTimer = setInterval(poll, POLL_MS);
  };
  const stopPolling = () => {
    clearInterval(pollTimer);
    pollTimer = null;
  };

  function newConversation() {
    if (busy) return;
    state.session = null;
    save();
    hasEmail = false;
    setHumanMode(false, true);
    clearAlert();
    greet();
    setComposer();
    focusInput();
  }

  function buildEmailForm() {
    const field = h("input", { id: "cf-email", type: "email", autocomplete: "email", required: true, "aria-describedby": "cf-email-err" });
    const err = h("p", { class: "err", id: "cf-email-err", "aria-live": "assertive" });
    const go = h("button", { class: "go", type: "submit", text: t("start") });
    emailForm.replaceChildren(
      h("p", { text: t("emailIntro") }),
      h("label", { for: "cf-email", text: t("email") }),
      h("div", { class: "row2" }, field, go),
      err,
    );
  }
  async function submitEmail(e) {
    e.preventDefault();
    const field = emailForm.querySelector("input");
    const err = emailForm.querySelector(".err");
    const email = field.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      err.textContent = t("emailInvalid");
      field.setAttribute("aria-invalid", "true");
      field.focus();
      return;
    }
    err.textContent = "";
    field.removeAttribute("aria-invalid");
    try {
      const body = { email };
      if (state.session) body.session_id = state.session;
      const res = await postJson("/lead", body);
      remember(await res.json());
      hasEmail = true;
      setComposer();
      if (config.suggestions && config.suggestions.length && !known.size) sugg.hidden = false;
      focusInput();
    } catch (error) {
      if (error instanceof Problem && error.kind === "invalid") {
        err.textContent = t("emailInvalid");
        field.focus();
      } else problem(error, () => emailForm.requestSubmit());
    }
  }

  // ------------------------------------------------ start
  async function boot() {
    let res;
    try {
      // No custom header: a simple request needs no preflight, so that a refused origin
      // still reads the 403 origin_not_allowed and the widget can say so.
      res = await request("", { headers: { Accept: "application/json" } });
      config = (await res.json()).chatbot;
    } catch (err) {
      if (err instanceof Problem && err.kind === "gone") {
        // Not a public chatbot (or none by that name): the widget shows nothing.
        console.info("Chatforge: chatbot %s is not public or does not exist.", REF);
        return;
      }
      if (!root) mount();
      showFatal(err);
      return;
    }
    if (!root) mount();
    fatal.hidden = true;
    for (const el of [log, composer]) el.hidden = false;
    newBtn.hidden = false;
    setTheme();
    buildEmailForm();
    greet();
    try {
      await restore();
    } catch (err) {
      problem(err, boot);
    }
    setComposer();
    if (config.voice) setupVoice();
    let wasOpen = false;
    try { wasOpen = sessionStorage.getItem(STORE_KEY + ":open") === "1"; } catch { /* no storage */ }
    if (PAGE || wasOpen || script.dataset.open === "true") show(PAGE);
  }

  // ------------------------------------------------ voice: the call button (docs/voice.md)
  let callBar = null;
  async function setupVoice() {
    let look;
    try {
      look = await (await request("/voice", { headers: { Accept: "application/json" } })).json();
    } catch {
      return; // no voice agent after all: no button
    }
    if (callBar) callBar.remove();
    const a = look.appearance || {};
    const words = look.text || {};
    const say = (key, fallback) => (typeof words[key] === "string" && words[key].trim()) || fallback;
    const button = h("button", { class: "call", type: "button", "aria-pressed": "false" });
    const line = h("span", { class: "call-state", role: "status" });
    const bg = colour(a.buttonColor);
    if (bg) button.style.background = bg;
    const fg = colour(a.buttonTextColor) || (bg && textOn(bg));
    if (fg) button.style.color = fg;
    if (Number.isFinite(a.buttonRadius)) button.style.borderRadius = `${Math.max(0, a.buttonRadius)}px`;
    callBar = h("div", { class: "callbar" }, button, line);
    panel.insertBefore(callBar, composer);
    const labels = {
      listening: say("listeningStatus", "Listening"),
      thinking: t("typing"),
      speaking: say("speakingStatus", "Talk to interrupt"),
    };
    let call = null;
    const idle = () => {
      button.textContent = say("startCall", "Start a call");
      button.setAttribute("aria-pressed", "false");
      line.textContent = say("callToAction", "");
    };
    const end = () => {
      if (!call) return;
      const c = call;
      call = null;
      try { if (c.ws.readyState === 1) c.ws.send(JSON.stringify({ type: "end" })); c.ws.close(); } catch { /* closed */ }
      for (const track of c.media.getTracks()) track.stop();
      c.mic.close();
      c.out.close();
      callBar.removeAttribute("data-playing");
      if (c.live) { c.live.typing = false; if (!c.live.text) c.live.el.remove(); else render(c.live); }
      busy = false;
      setComposer();
      idle();
    };
    const start = async () => {
      clearAlert();
      let media;
      try {
        media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
      } catch {
        problem(new Problem("unavailable"));
        return;
      }
      const mic = new AudioContext({ sampleRate: look.input_sample_rate || 16000 });
      const out = new AudioContext();
      try {
        await mic.audioWorklet.addModule(`${API}/voice/worklet.js`);
      } catch {
        for (const track of media.getTracks()) track.stop();
        problem(new Problem("unavailable"));
        return;
      }
      const node = new AudioWorkletNode(mic, "chatforge-mic");
      // Silent output: a node that reaches no destination is never run.
      const sink = mic.createGain();
      sink.gain.value = 0;
      mic.createMediaStreamSource(media).connect(node).connect(sink).connect(mic.destination);
      const query = new URLSearchParams();
      if (state.session) query.set("session_id", state.session);
      if (state.token) query.set("visitor_token", state.token);
      const ws = new WebSocket(`${API.replace(/^http/, "ws")}/voice/realtime?${query}`);
      ws.binaryType = "arraybuffer";
      const c = (call = { ws, media, mic, out, rate: 22050, at: 0, playing: [], live: null, loud: 0, floor: 0.005, muted: false });
      // The bar says whether the answer is playing (a test and a stylesheet can see it).
      const playing = () => callBar.toggleAttribute("data-playing", c.playing.length > 0);
      const hush = () => {
        for (const s of c.playing) try { s.stop(); } catch { /* ended */ }
        c.playing = [];
        c.at = 0;
        playing();
      };
      // Talk to interrupt, here and at once: while the answer plays, 150 ms of the caller's voice
      // (10 ms windows well above the room's noise floor) stops it, without waiting for the
      // server to hear the new turn. The rest of that answer's audio is dropped until the server
      // starts the next turn (a transcript) or says it stopped (interrupted).
      const hear = (pcm) => {
        for (let i = 0; i + 160 <= pcm.length; i += 160) {
          let sum = 0;
          for (let j = i; j < i + 160; j++) sum += pcm[j] * pcm[j];
          const level = Math.sqrt(sum / 160) / 32768;
          const loud = level > Math.max(0.02, 4 * c.floor);
          if (!loud) c.floor += (level - c.floor) * (level < c.floor ? 0.2 : 0.01);
          c.loud = loud && c.playing.length ? c.loud + 10 : 0;
          if (c.loud >= 150) {
            c.loud = 0;
            c.muted = true;
            hush();
            line.textContent = labels.listening;
          }
        }
      };
      node.port.onmessage = (e) => {
        hear(new Int16Array(e.data));
        if (ws.readyState === 1) ws.send(e.data);
      };
      const play = (data) => {
        const pcm = new Int16Array(data);
        if (!pcm.length) return;
        const buffer = out.createBuffer(1, pcm.length, c.rate);
        const channel = buffer.getChannelData(0);
        for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
        const source = out.createBufferSource();
        source.buffer = buffer;
        source.connect(out.destination);
        c.at = Math.max(c.at, out.currentTime + 0.05);
        source.start(c.at);
        c.at += buffer.duration;
        c.playing.push(source);
        playing();
        source.onended = () => { c.playing = c.playing.filter((s) => s !== source); playing(); };
      };
      ws.onmessage = (e) => {
        if (typeof e.data !== "string") return c.muted || play(e.data);
        let ev;
        try { ev = JSON.parse(e.data); } catch { return; }
        if (ev.type === "ready") c.rate = ev.output_sample_rate || c.rate;
        else if (ev.type === "state") line.textContent = labels[c.muted && ev.state === "speaking" ? "listening" : ev.state] || "";
        else if (ev.type === "transcript") {
          clearAlert(); // answered again: a "wait" from an earlier turn is over
          sugg.hidden = true;
          pending.push(addMessage("user", ev.text));
          hush(); // a new question: whatever is left of the last answer is not wanted now
          c.muted = false;
          c.live = addMessage("bot", "", { typing: true });
        } else if (ev.type === "session") remember(ev);
        else if (ev.type === "sources" && c.live) {
          c.live.sources = ev.sources || [];
          renderSources(c.live);
        } else if (ev.type === "answer" && c.live) {
          const message = ev.text == null ? null : { id: ev.message_id, content: ev.text, sources: c.live.sources };
          finish(c.live, message);
          c.live = null;
        } else if (ev.type === "interrupted") {
          hush();
          c.muted = false;
          if (c.live) { c.live.typing = false; if (!c.live.text) c.live.el.remove(); c.live = null; }
        } else if (ev.type === "error") {
          problem(problemOf(ev.error && ev.error.code === "not_found" ? 404 : 0, ev.error || {}, null));
        }
      };
      ws.onclose = () => { if (call === c) end(); };
      busy = true; // typing waits while the call lasts (and polling pauses)
      setComposer();
      button.textContent = say("endCall", "End");
      button.setAttribute("aria-pressed", "true");
      line.textContent = labels.listening;
    };
    button.onclick = () => (call ? end() : start());
    idle();
  }

  boot();
})();
