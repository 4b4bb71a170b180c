"""The pure domain: model, rules and the sync planner. Imports nothing of ours but itself."""
