from ladle.cli.main import main

main()
