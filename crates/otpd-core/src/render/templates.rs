//! Message templates, one set per language. `{brand}` and `{code}` are filled in. Every SMS
//! template keeps a 20-character brand and a 10-symbol code inside one segment (160 GSM-7 or
//! 70 UCS-2 characters; the property test in `tests.rs` proves it). The e-mail's text and HTML
//! parts are built from `email_intro` and `email_footer`, so they always say the same thing.
//! Adding a language = adding one `Templates` value and its tag to `LANGUAGES` and `lookup`.

use super::Locale;

pub(super) struct Templates {
    pub sms: &'static str,
    pub call: &'static str,
    pub email_subject: &'static str,
    /// The sentence before the code, which follows it on its own.
    pub email_intro: &'static str,
    pub email_footer: &'static str,
    /// Written right to left (the HTML part says so).
    pub rtl: bool,
}

pub(super) const LANGUAGES: &[&str] = &[
    "en", "de", "fr", "es", "it", "nl", "pt", "tr", "pl", "sv", "ru", "ar", "zh", "ja",
];

const EN: Templates = Templates {
    sms: "Your {brand} verification code is: {code}",
    call: "Your {brand} verification code is: {code}. Again, your code is: {code}.",
    email_subject: "Your {brand} verification code",
    email_intro: "Your {brand} verification code is:",
    email_footer: "It expires soon. If you did not ask for it, you can ignore this e-mail.",
    rtl: false,
};

const DE: Templates = Templates {
    sms: "Ihr {brand} Bestätigungscode lautet: {code}",
    call: "Ihr {brand} Bestätigungscode lautet: {code}. Noch einmal, Ihr Code lautet: {code}.",
    email_subject: "Ihr {brand} Bestätigungscode",
    email_intro: "Ihr {brand} Bestätigungscode lautet:",
    email_footer: "Er ist nur kurz gültig. Wenn Sie ihn nicht angefordert haben, können Sie diese E-Mail ignorieren.",
    rtl: false,
};

const FR: Templates = Templates {
    sms: "Votre code de vérification {brand} est : {code}",
    call: "Votre code de vérification {brand} est : {code}. Je répète, votre code est : {code}.",
    email_subject: "Votre code de vérification {brand}",
    email_intro: "Votre code de vérification {brand} est :",
    email_footer: "Il expire bientôt. Si vous ne l'avez pas demandé, vous pouvez ignorer cet e-mail.",
    rtl: false,
};

const ES: Templates = Templates {
    sms: "Su código de verificación de {brand} es: {code}",
    call: "Su código de verificación de {brand} es: {code}. Repito, su código es: {code}.",
    email_subject: "Su código de verificación de {brand}",
    email_intro: "Su código de verificación de {brand} es:",
    email_footer: "Caduca pronto. Si no lo ha solicitado, puede ignorar este correo.",
    rtl: false,
};

const IT: Templates = Templates {
    sms: "Il tuo codice di verifica {brand} è: {code}",
    call: "Il tuo codice di verifica {brand} è: {code}. Ripeto, il tuo codice è: {code}.",
    email_subject: "Il tuo codice di verifica {brand}",
    email_intro: "Il tuo codice di verifica {brand} è:",
    email_footer: "Scade a breve. Se non l'hai richiesto, puoi ignorare questa e-mail.",
    rtl: false,
};

const NL: Templates = Templates {
    sms: "Uw {brand} verificatiecode is: {code}",
    call: "Uw {brand} verificatiecode is: {code}. Nogmaals, uw code is: {code}.",
    email_subject: "Uw {brand} verificatiecode",
    email_intro: "Uw {brand} verificatiecode is:",
    email_footer: "De code verloopt binnenkort. Heeft u deze niet aangevraagd, dan kunt u deze e-mail negeren.",
    rtl: false,
};

const PT: Templates = Templates {
    sms: "O seu código de verificação {brand} é: {code}",
    call: "O seu código de verificação {brand} é: {code}. Repito, o seu código é: {code}.",
    email_subject: "O seu código de verificação {brand}",
    email_intro: "O seu código de verificação {brand} é:",
    email_footer: "Expira em breve. Se não o pediu, pode ignorar este e-mail.",
    rtl: false,
};

const TR: Templates = Templates {
    sms: "{brand} doğrulama kodunuz: {code}",
    call: "{brand} doğrulama kodunuz: {code}. Tekrar ediyorum, kodunuz: {code}.",
    email_subject: "{brand} doğrulama kodunuz",
    email_intro: "{brand} doğrulama kodunuz:",
    email_footer: "Kısa süre içinde geçerliliğini yitirir. Siz istemediyseniz bu e-postayı yok sayabilirsiniz.",
    rtl: false,
};

const PL: Templates = Templates {
    sms: "Twój kod weryfikacyjny {brand}: {code}",
    call: "Twój kod weryfikacyjny {brand} to: {code}. Powtarzam, twój kod to: {code}.",
    email_subject: "Twój kod weryfikacyjny {brand}",
    email_intro: "Twój kod weryfikacyjny {brand} to:",
    email_footer: "Wkrótce wygaśnie. Jeśli o niego nie prosiłeś, zignoruj tę wiadomość.",
    rtl: false,
};

const SV: Templates = Templates {
    sms: "Din verifieringskod för {brand} är: {code}",
    call: "Din verifieringskod för {brand} är: {code}. Jag upprepar, din kod är: {code}.",
    email_subject: "Din verifieringskod för {brand}",
    email_intro: "Din verifieringskod för {brand} är:",
    email_footer: "Den går snart ut. Om du inte har begärt den kan du ignorera det här e-postmeddelandet.",
    rtl: false,
};

const RU: Templates = Templates {
    sms: "Ваш код подтверждения {brand}: {code}",
    call: "Ваш код подтверждения {brand}: {code}. Повторяю, ваш код: {code}.",
    email_subject: "Ваш код подтверждения {brand}",
    email_intro: "Ваш код подтверждения {brand}:",
    email_footer: "Срок его действия скоро истечёт. Если вы его не запрашивали, просто проигнорируйте это письмо.",
    rtl: false,
};

const AR: Templates = Templates {
    sms: "رمز التحقق الخاص بك من {brand} هو: {code}",
    call: "رمز التحقق الخاص بك من {brand} هو: {code}. أكرر، رمزك هو: {code}.",
    email_subject: "رمز التحقق الخاص بك من {brand}",
    email_intro: "رمز التحقق الخاص بك من {brand} هو:",
    email_footer: "تنتهي صلاحيته قريبًا. إذا لم تطلبه، يمكنك تجاهل هذه الرسالة.",
    rtl: true,
};

const ZH: Templates = Templates {
    sms: "您的{brand}验证码是：{code}",
    call: "您的{brand}验证码是：{code}。再说一遍，您的验证码是：{code}。",
    email_subject: "您的{brand}验证码",
    email_intro: "您的{brand}验证码是：",
    email_footer: "验证码即将过期。如果您没有请求此验证码，请忽略这封邮件。",
    rtl: false,
};

const JA: Templates = Templates {
    sms: "{brand}の認証コード：{code}",
    call: "{brand}の認証コードは{code}です。もう一度繰り返します。コードは{code}です。",
    email_subject: "{brand}の認証コード",
    email_intro: "{brand}の認証コード：",
    email_footer: "このコードはまもなく有効期限が切れます。心当たりがない場合は、このメールを無視してください。",
    rtl: false,
};

fn by_tag(tag: &str) -> Option<&'static Templates> {
    Some(match tag {
        "en" => &EN,
        "de" => &DE,
        "fr" => &FR,
        "es" => &ES,
        "it" => &IT,
        "nl" => &NL,
        "pt" => &PT,
        "tr" => &TR,
        "pl" => &PL,
        "sv" => &SV,
        "ru" => &RU,
        "ar" => &AR,
        "zh" => &ZH,
        "ja" => &JA,
        _ => return None,
    })
}

/// The templates of the whole tag, else of its language; `None` when neither has any.
pub(super) fn lookup(locale: &Locale) -> Option<&'static Templates> {
    by_tag(locale.as_str()).or_else(|| by_tag(locale.language()))
}

/// Fallback chain: full tag, then language, then English.
pub(super) fn for_locale(locale: &Locale) -> &'static Templates {
    lookup(locale).unwrap_or(&EN)
}
