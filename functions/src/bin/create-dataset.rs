//! Lambda for `create-dataset`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run(shared::Route::CreateDataset)
}
