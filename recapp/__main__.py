from recapp.cli.main import main

main()
