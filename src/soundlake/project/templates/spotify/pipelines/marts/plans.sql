-- Plan movements per month from the SCD2 history of dim_user.
-- Plan order: Free < Premium < Family. A cancellation is a version that sets end_date.

CREATE OR REFRESH MATERIALIZED VIEW spotify_catalog.gold.mart_plan_changes_monthly
COMMENT 'Upgrades, downgrades and churn per month'
AS WITH history AS (
  SELECT
    user_id,
    subscription_type,
    end_date,
    __START_AT AS changed_at,
    lag(subscription_type) OVER (PARTITION BY user_id ORDER BY __START_AT) AS previous_plan,
    lag(end_date) OVER (PARTITION BY user_id ORDER BY __START_AT) AS previous_end_date,
    row_number() OVER (PARTITION BY user_id ORDER BY __START_AT) AS version
  FROM spotify_catalog.gold.dim_user
), moves AS (
  SELECT
    CAST(date_trunc('MONTH', changed_at) AS DATE) AS month,
    CASE subscription_type WHEN 'Free' THEN 0 WHEN 'Premium' THEN 1 WHEN 'Family' THEN 2 END AS plan_rank,
    CASE previous_plan WHEN 'Free' THEN 0 WHEN 'Premium' THEN 1 WHEN 'Family' THEN 2 END AS previous_rank,
    end_date IS NOT NULL AND previous_end_date IS NULL AS churned
  FROM history
  WHERE version > 1
)
SELECT
  month,
  sum(CASE WHEN plan_rank > previous_rank THEN 1 ELSE 0 END) AS upgrades,
  sum(CASE WHEN plan_rank < previous_rank THEN 1 ELSE 0 END) AS downgrades,
  sum(CASE WHEN churned THEN 1 ELSE 0 END) AS churned
FROM moves
GROUP BY month;

-- Plan mix: users per plan at the end of each month in which the history changed.
CREATE OR REFRESH MATERIALIZED VIEW spotify_catalog.gold.mart_plan_mix_monthly
COMMENT 'Users per plan at each month end'
AS WITH months AS (
  SELECT DISTINCT last_day(CAST(__START_AT AS DATE)) AS month_end FROM spotify_catalog.gold.dim_user
)
SELECT
  m.month_end,
  u.subscription_type,
  count(DISTINCT u.user_id) AS users
FROM months AS m
JOIN spotify_catalog.gold.dim_user AS u
  ON CAST(u.__START_AT AS DATE) <= m.month_end
 AND (u.__END_AT IS NULL OR CAST(u.__END_AT AS DATE) > m.month_end)
GROUP BY m.month_end, u.subscription_type;
