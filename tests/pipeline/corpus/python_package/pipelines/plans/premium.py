PLAN = "Premium"
