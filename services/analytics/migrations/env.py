from services.runtime.migration_env import run

run()
