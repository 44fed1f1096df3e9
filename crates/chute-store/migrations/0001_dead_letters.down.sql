DROP TABLE IF EXISTS chute_dead_letters;
