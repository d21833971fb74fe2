"""`modelship gate`: judge a model's eval results against thresholds and the production baseline.

readers (JSONL, CSV, metrics JSON; streaming) -> metrics (scikit-learn, sacrebleu, rouge-score
definitions) -> intervals (95% bootstrap) -> judge (thresholds, baseline) -> report (JSON, job
summary). online sends an eval set to a running model server first. command wires them to the CLI.
"""
