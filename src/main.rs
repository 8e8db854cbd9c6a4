fn main() {
    std::process::exit(moodtape::cli::main());
}
