DROP TABLE IF EXISTS influx_points;
