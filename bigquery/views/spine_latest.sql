-- The time spine with only the latest revision of each (skid, grid point): a late
-- reading re-emits a spine row with a higher revision, and readers want that one.
SELECT
  *
FROM spine_points
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY skid_id, grid_ts
  ORDER BY revision DESC, emitted_ts DESC
) = 1
