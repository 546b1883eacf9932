"""OpenAI-compatible specifics: servers without structured outputs (llama.cpp, older vLLM)."""

from __future__ import annotations

from pathlib import Path

from fixtures.llm import LLMStandIn, Reply
from nadg.llm import build_client


async def test_a_server_without_structured_outputs_gets_json_mode(
    llm_standin: LLMStandIn, tmp_path: Path
) -> None:
    refusal = {"error": {"message": "response_format type json_schema is not supported"}}
    llm_standin.script(Reply(status=400, raw=refusal), Reply(text='{"a": 1}'), Reply(text="{}"))
    schema = {"type": "object"}
    async with build_client(llm_standin.settings("openai", tmp_path)) as client:  # type: ignore[union-attr]
        assert (await client.complete("x", system="Be brief.", schema=schema)).text == '{"a": 1}'
        await client.complete("y", schema=schema)  # remembered: JSON mode from the start
    first, second, third = llm_standin.requests
    assert first.body["response_format"]["type"] == "json_schema"
    for later in (second, third):
        assert later.body["response_format"] == {"type": "json_object"}
        assert '{"type": "object"}' in later.system
    assert second.system.startswith("Be brief.")
