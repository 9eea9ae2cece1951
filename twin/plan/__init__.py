"""The 7-day forward plan: an hourly MILP of flow, pump line-up and DRA ppm.

Entry point: :func:`twin.plan.planner.make_plan`.
"""
