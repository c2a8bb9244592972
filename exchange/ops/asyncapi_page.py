"""The AsyncAPI document as a page a person can read, rendered on the server: no script,
no outside asset. Each channel lists what the exchange receives and sends, each message
its fields (from the generated payload schema) and an example frame."""

from __future__ import annotations

import html
import json
import re
from typing import Any

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{border-bottom:2px solid #1b1b1b;margin-top:2.5rem}h3{margin-top:2rem}
code,pre{font:14px/1.4 ui-monospace,monospace;background:#f3f3f3}
pre{padding:.75rem;overflow-x:auto}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
.dir{display:inline-block;padding:0 .4rem;border-radius:3px;color:#fff;font-size:.85rem}
.receive{background:#1a5e1a}.send{background:#1f4d8c}
"""


def _prose(text: str) -> str:
    """Escaped text with its `code spans` set as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def render(document: dict[str, Any]) -> str:
    """The whole page for an AsyncAPI 3 document of `exchange.ops.asyncapi`."""
    info = document["info"]
    components = document["components"]
    messages = components["messages"]
    schemas = components["schemas"]
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{e(info['title'])}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{e(info['title'])}</h1>",
        f"<p>{_prose(info['description'])}</p>",
        f"<p>AsyncAPI {e(document['asyncapi'])} · version {e(info['version'])} · "
        "<a href='/asyncapi.json'>asyncapi.json</a> · <a href='/schema/swagger'>HTTP API</a></p>",
    ]
    for server in document.get("servers", {}).values():
        parts.append(f"<p>Server: <code>{e(server['protocol'])}://{e(server['host'])}</code></p>")
    for name, channel in document["channels"].items():
        parts.append(
            f"<h2 id='channel-{e(name)}'>{e(channel['title'])}: "
            f"<code>{e(channel['address'])}</code></h2>"
        )
        parts.append(f"<p>{_prose(channel['description'])}</p>")
        query = channel.get("bindings", {}).get("ws", {}).get("query")
        if query:
            parts.append("<p>Query parameters:</p>" + _fields(query, schemas))
        for op in document["operations"].values():
            if op["channel"]["$ref"] != f"#/channels/{name}":
                continue
            for ref in op["messages"]:
                key = ref["$ref"].rsplit("/", 1)[1]
                parts.append(_message(f"{name}-{key}", messages[key], op["action"], schemas))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _message(anchor: str, message: dict[str, Any], action: str, schemas: dict[str, Any]) -> str:
    """One message of a channel, at `#message-{channel}-{key}`."""
    e = html.escape
    who = "the exchange receives (clients send)" if action == "receive" else "the exchange sends"
    payload = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
    shown = [json.dumps(x["payload"], indent=2) for x in message.get("examples", [])]
    return (
        f"<h3 id='message-{e(anchor)}'><code>{e(message['name'])}</code> "
        f"<span class='dir {e(action)}'>{e(who)}</span></h3>"
        + (f"<p>{_prose(message['summary'])}</p>" if message.get("summary") else "")
        + _fields(payload, schemas)
        + "".join(f"<p>Example:</p><pre>{e(x)}</pre>" for x in shown)
    )


def _fields(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    e = html.escape
    required = set(schema.get("required", []))
    rows = [
        f"<tr><td><code>{e(name)}</code></td><td>{e(_type(prop, schemas))}</td>"
        f"<td>{'yes' if name in required else 'no'}</td></tr>"
        for name, prop in schema.get("properties", {}).items()
    ]
    return (
        "<table><thead><tr><th>field</th><th>value</th><th>required</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _type(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    """A schema in a few words: `integer ≥ 1`, `map of BedCounts`, `"report"`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        fields = ", ".join(schemas.get(name, {}).get("properties", {}))
        return f"{name} {{{fields}}}" if fields else name
    if "anyOf" in schema:
        return " or ".join(_type(s, schemas) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}), schemas)}"
    if kind == "object" and "additionalProperties" in schema:
        keys = schema.get("propertyNames", {}).get("pattern")
        key = f" (keys {keys})" if keys else ""
        return f"map{key} of {_type(schema['additionalProperties'], schemas)}"
    limits = [
        f"{word} {schema[k]}"
        for k, word in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
            ("pattern", "matching"),
        )
        if k in schema
    ]
    return " ".join([str(kind), *limits])
