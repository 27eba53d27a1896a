"""Read-only SQL against the store: through the running sink when one owns the embedded
store, directly otherwise (embedded store after the demo, or a ClickHouse server)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.config import Config
from pipeline.sink import connect, sink_info_path


@dataclass
class SinkQuery:
    url: str | None
    cfg: Config

    @classmethod
    def for_config(cls, cfg: Config) -> SinkQuery:
        info = sink_info_path(cfg)
        if cfg.embedded_store() and info.exists():
            return cls(orjson.loads(info.read_bytes())["query_url"], cfg)
        return cls(None, cfg)

    def run(self, sql: str) -> dict[str, Any]:
        if self.url is None:
            client = connect(self.cfg, create=False)
            result = client.query(sql, settings={"readonly": 1})
            return {"columns": list(result.column_names), "rows": result.result_rows}
        req = urllib.request.Request(self.url, data=sql.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return dict(orjson.loads(resp.read()))
        except urllib.error.HTTPError as e:
            raise RuntimeError(orjson.loads(e.read()).get("error", str(e))) from None

    def rows(self, sql: str) -> list[list[Any]]:
        return list(self.run(sql)["rows"])

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        res = self.run(sql)
        return [dict(zip(res["columns"], r, strict=True)) for r in res["rows"]]
