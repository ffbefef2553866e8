// A `.send()` on something that is not a request builder filibuster knows
// (as a `RequestBuilder` of another reqwest version would be).
struct Mail;

impl Mail {
    async fn send(self) -> Result<(), String> {
        Ok(())
    }
}

#[filibuster::call]
async fn notify(mail: Mail) -> Result<(), String> {
    mail.send().await
}

fn main() {}
