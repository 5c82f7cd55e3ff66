PLAN = "Free"
