# Two commands for a user: `make run` starts everything, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := run

BOT_PY := .venv/bin/python
CRM_PY := crm_backend/.venv/bin/python
RASA := .venv/bin/rasa
MODEL := models/current.tar.gz
BOT_SOURCES := config.yml domain.yml $(shell find data nlu_components -type f \( -name '*.yml' -o -name '*.py' -o -name '*.csv' -o -name '*.jsonl' \) 2>/dev/null)
ENV_STAMPS := .venv/.synced crm_backend/.venv/.synced
TEST_REPORTS := var/test-reports
# Rasa must not phone home (telemetry, error reports): nothing leaves the machine.
export RASA_TELEMETRY_ENABLED := false

.PHONY: run test envs train bench-crm bench-nlu bench-oos catalog-patterns bench-sentiment bench-churn bench-recs bench-recs-api bench-chat

envs: $(ENV_STAMPS)

$(ENV_STAMPS) &: pyproject.toml uv.lock crm_backend/pyproject.toml crm_backend/uv.lock ops/bootstrap.sh
	ops/bootstrap.sh
	touch $(ENV_STAMPS)

train: $(MODEL)

$(MODEL): $(BOT_SOURCES) | $(ENV_STAMPS)
	@echo "training the assistant (sources changed or no model yet) ..."
	$(RASA) train --fixed-model-name current --out models
	@touch $(MODEL)

run: $(ENV_STAMPS) $(MODEL)
	$(CRM_PY) ops/supervisor.py

test: $(ENV_STAMPS) $(MODEL)
	@rm -rf $(TEST_REPORTS) && mkdir -p $(TEST_REPORTS)
	status=0; \
	$(BOT_PY) -m pytest tests/bot -q -p no:cacheprovider --junitxml=$(TEST_REPORTS)/bot.xml || status=$$?; \
	(cd crm_backend && .venv/bin/python -m pytest ../tests/crm -q -p no:cacheprovider --junitxml=../$(TEST_REPORTS)/crm.xml) || status=$$?; \
	$(CRM_PY) ops/test_summary.py $(TEST_REPORTS)/*.xml; \
	exit $$status

# Benchmarks run apart from the tests; each prints a table and writes benchmarks/results/<name>.json.
bench-crm: $(ENV_STAMPS)
	$(CRM_PY) benchmarks/bench_crm.py

bench-churn: $(ENV_STAMPS)
	$(CRM_PY) benchmarks/bench_churn.py

# Recommender: Amazon Games offline (docs/recommendations.md), and the endpoints' latency at 100,000 customers.
bench-recs: $(ENV_STAMPS)
	$(CRM_PY) benchmarks/bench_recs.py

bench-recs-api: $(ENV_STAMPS)
	$(CRM_PY) benchmarks/bench_recs_api.py

# NLU benchmarks of config.yml's pipeline on the shared data sets (docs/nlu.md).
bench-nlu: $(ENV_STAMPS)
	$(BOT_PY) benchmarks/bench_nlu.py

bench-oos: $(ENV_STAMPS)
	$(BOT_PY) benchmarks/bench_oos.py

# Sentiment component, trained on our examples only, on the airline tweets (docs/sentiment.md).
bench-sentiment: $(ENV_STAMPS)
	$(BOT_PY) benchmarks/bench_sentiment.py

# The whole assistant under simulated customers over the app channel, and one conversation of 300 turns (docs/benchmarks-chat.md).
# In the scaled set-up: 2 Rasa workers sharing the machine's Redis (`.venv/bin/python benchmarks/bench_chat.py` alone: make run's one worker).
bench-chat: $(ENV_STAMPS) $(MODEL)
	$(BOT_PY) benchmarks/bench_chat.py --rasa-workers 2 --redis redis://127.0.0.1:6379/0

# Refresh the bot's product and category patterns from the CRM's catalogue (CRM_DATABASE_URL, else var/); retrain after.
catalog-patterns: $(ENV_STAMPS)
	$(CRM_PY) -m app.cli export-catalog-patterns data/catalog/catalog_patterns.jsonl
