"""`mlci pipeline run`: every stage of mlci.yml in order, in one process.

`invoke` runs one stage command in this process (its own flags and plumbing, its `--json`
document captured); `stages` turns each stage's outcome into a decision with its reasons;
`runner` orders them and stops where a stage says so; `report` writes the summary table,
the Markdown report and the JSON document.
"""
