import dlt
from utils.helpers import known_users, raw_plays


@dlt.table(comment="plays of known users")
def plays():
    return known_users(raw_plays()).select("id", "user_id", "seconds", "plan")
